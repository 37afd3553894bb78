#!/bin/sh
# Register the CircuitDesk bundle with the desktop, for this user only: a menu entry that runs
# the circuitdesk program in this folder, and its icon. Nothing is copied out of the folder
# but the icon, so move the folder first and run this again if you move it.
#
#   ./install.sh              register (again)
#   ./install.sh --uninstall  remove the entry and the icon
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${XDG_DATA_HOME:-"$HOME/.local/share"}
APPS="$DATA/applications"
ICONS="$DATA/icons/hicolor/scalable/apps"
ENTRY="$APPS/circuitdesk.desktop"
ICON="$ICONS/circuitdesk.svg"

refresh() {
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database "$APPS" >/dev/null 2>&1 || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1; then
        gtk-update-icon-cache -q -t "$DATA/icons/hicolor" >/dev/null 2>&1 || true
    fi
}

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$ENTRY" "$ICON"
    refresh
    echo "removed $ENTRY and $ICON"
    exit 0
fi
if [ -n "${1:-}" ]; then
    echo "usage: $0 [--uninstall]" >&2
    exit 2
fi
if [ ! -x "$HERE/circuitdesk" ]; then
    echo "install.sh: no circuitdesk program beside this script (in $HERE)" >&2
    exit 1
fi

mkdir -p "$APPS" "$ICONS"
cp "$HERE/circuitdesk.svg" "$ICON"
# The entry of the pip install runs `circuitdesk-gui` from PATH; this one runs the bundle's
# program by its absolute path (quoted, as the Desktop Entry spec asks, for folders with spaces).
SED_SAFE=$(printf '%s' "$HERE" | sed -e 's/[\\&|]/\\&/g')
sed -e "s|^Exec=.*|Exec=\"$SED_SAFE/circuitdesk\" %F|" \
    -e "s|^Icon=.*|Icon=circuitdesk|" \
    "$HERE/circuitdesk.desktop" > "$ENTRY.tmp"
mv "$ENTRY.tmp" "$ENTRY"
chmod 644 "$ENTRY"
refresh
echo "registered $ENTRY (runs $HERE/circuitdesk) and $ICON"
