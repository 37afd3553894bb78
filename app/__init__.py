"""The Qt application: the main window and its canvas and panels, the task runner, themes,
sessions on disk, and the command line (`app/commands`). The only layer that imports Qt."""
