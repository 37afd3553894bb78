"""Prompt token strings for a circuit-tracer ``.pt``: the GUI-thread stall while the loader
decodes them, ``decode_each`` (graph/io/token_strings.py) against ``Tokenizer.from_file``.

    python benchmarks/bench_token_strings.py [--vocab 256000]

Writes a Gemma-sized byte-fallback BPE ``tokenizer.json`` (``--vocab`` tokens, one merge per
multi-letter token) into a temporary folder, then decodes 40 prompt ids both ways while a
thread that wakes every 2 ms records its longest wait: the time the GIL was held, i.e. how long
the window could not repaint. Both run in this process, one after the other, three times.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import orjson


def write_tokenizer(path: Path, n_vocab: int) -> None:
    """A valid BPE file: <0xNN> byte pieces, then every string over 27 letters by length."""
    vocab = {f"<0x{b:02X}>": b for b in range(256)}
    letters, merges, level = "abcdefghijklmnopqrstuvwxyz▁", [], [""]
    while len(vocab) < n_vocab:
        nxt = []
        for prefix in level:
            for ch in letters:
                if len(vocab) >= n_vocab:
                    break
                vocab[prefix + ch] = len(vocab)
                if prefix:
                    merges.append([prefix, ch])
                nxt.append(prefix + ch)
        level = nxt
    spec = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
            "normalizer": None, "pre_tokenizer": {"type": "Metaspace", "replacement": "▁",
                                                  "prepend_scheme": "first", "split": False},
            "post_processor": None,
            "decoder": {"type": "Sequence", "decoders": [
                {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                {"type": "ByteFallback"}, {"type": "Fuse"}]},
            "model": {"type": "BPE", "dropout": None, "unk_token": None,
                      "continuing_subword_prefix": None, "end_of_word_suffix": None,
                      "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                      "vocab": vocab, "merges": merges}}
    path.write_bytes(orjson.dumps(spec))


def main() -> None:
    from bench_stalls import held
    from circuitdesk.graph.io.token_strings import decode_each
    from tokenizers import Tokenizer

    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, default=256_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tokenizer.json"
        write_tokenizer(path, args.vocab)
        ids = list(range(0, args.vocab, args.vocab // 40))[:40]
        print(f"tokenizer.json: {path.stat().st_size / 1e6:.1f} MB, {args.vocab} tokens")

        def full() -> list[str]:
            tok = Tokenizer.from_file(str(path))
            return [tok.decode([i], skip_special_tokens=False) for i in ids]

        for _ in range(3):
            base_s, base_gap, want = held(full)
            ours_s, ours_gap, got = held(lambda: decode_each(path, ids))
            assert got == want, "decode_each disagrees with the full tokenizer"
            print(f"from_file: {base_s * 1e3:5.0f} ms, GIL held up to {base_gap * 1e3:4.0f} ms | "
                  f"decode_each: {ours_s * 1e3:4.0f} ms, up to {ours_gap * 1e3:4.0f} ms | "
                  f"stall ratio {ours_gap / base_gap:.2f}x")


if __name__ == "__main__":
    main()
