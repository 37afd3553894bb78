"""Prompt token strings from a tokenizer.json without building the whole tokenizer: the same
strings as ``Tokenizer.from_file(...).decode([id])`` for every kind of tokenizer file."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

tokenizers = pytest.importorskip("tokenizers")
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402

from circuitdesk.graph.io.token_strings import _parsed, decode_each  # noqa: E402

TEXT = ["The National Digital Library of Finland, Ça va? 東京 naïve ünïcödé 🙂 \t tabs",
        "def f(x):\n    return x ** 2  # code", "Michael Jordan plays basketball. " * 3,
        "opposite of small is big; le contraire de petit est grand"] * 20
SPECIAL = ["<bos>", "<eos>", "<pad>"]


def _byte_level_bpe() -> Tokenizer:  # GPT-2, Llama 3, Qwen
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(TEXT, trainers.BpeTrainer(
        vocab_size=600, special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tok


def _byte_fallback_bpe() -> Tokenizer:  # Llama 2, Gemma: ▁ for spaces, <0xNN> byte pieces
    tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.train_from_iterator(TEXT, trainers.BpeTrainer(
        vocab_size=500, special_tokens=["<unk>", *SPECIAL, *(f"<0x{b:02X}>" for b in range(256))]))
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    return tok


def _unigram() -> Tokenizer:  # T5-style SentencePiece unigram
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(TEXT, trainers.UnigramTrainer(
        vocab_size=300, special_tokens=["<unk>", *SPECIAL], unk_token="<unk>"))
    return tok


def _wordpiece() -> Tokenizer:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(TEXT, trainers.WordPieceTrainer(
        vocab_size=400, special_tokens=["[UNK]", *SPECIAL]))
    return tok


KINDS = {"byte-level-bpe": _byte_level_bpe, "byte-fallback-bpe": _byte_fallback_bpe,
         "unigram": _unigram, "wordpiece": _wordpiece}


@pytest.mark.parametrize("kind", KINDS)
def test_every_token_decodes_as_the_full_tokenizer_does(kind: str, tmp_path: Path) -> None:
    tok = KINDS[kind]()
    tok.add_special_tokens(["<start_of_turn>"])  # an added token past the model's vocabulary
    tok.add_tokens(["<extra plain>"])
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    full = Tokenizer.from_file(str(path))
    n = full.get_vocab_size(with_added_tokens=True)
    ids = [*range(n), n + 5, 0, 3, 3]  # one past the vocabulary; repeats, as a prompt has
    assert decode_each(path, ids) == [full.decode([i], skip_special_tokens=False) for i in ids]
    spec = _parsed(path.read_bytes())
    if kind.endswith("bpe"):  # the merges were cut off unparsed
        assert spec["model"]["merges"] == [] and orjson.loads(path.read_bytes())["model"]["merges"]


def test_a_file_whose_merges_cannot_be_cut_is_parsed_whole(tmp_path: Path) -> None:
    tok = _byte_level_bpe()
    spec = orjson.loads(tok.to_str())
    spec["model"] = {"merges": spec["model"].pop("merges"), **spec["model"]}  # merges first
    spec["model"]["vocab"]["merges"] = 9999  # and a token named "merges" after them
    path = tmp_path / "tokenizer.json"
    path.write_bytes(orjson.dumps(spec))
    full = Tokenizer.from_file(str(path))
    assert _parsed(path.read_bytes())["model"]["merges"]  # not cut
    ids = list(range(0, full.get_vocab_size(), 7)) + [9999]
    assert decode_each(path, ids) == [full.decode([i], skip_special_tokens=False) for i in ids]


@pytest.mark.parametrize("data", [b"", b"{", b"[]", b'{"model": 3}', b'{"model": {"vocab": 1}}',
                                  b'{"model": {"vocab": {}}, "merges": [}'])
def test_broken_files_raise(data: bytes, tmp_path: Path) -> None:
    """pt_io turns any error into "no token strings" (ids are shown); nothing else escapes."""
    path = tmp_path / "tokenizer.json"
    path.write_bytes(data)
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the library raises
        decode_each(path, [0, 1])


def test_keys_after_the_merges_are_kept(tmp_path: Path) -> None:
    """A file written in another key order (the decoder after the model) is parsed whole: cutting
    at the merges would drop the decoder, and byte-level tokens would decode wrongly."""
    tok = _byte_level_bpe()
    spec = orjson.loads(tok.to_str())
    spec["decoder"] = spec.pop("decoder")  # now the document's last key, after "model"
    path = tmp_path / "tokenizer.json"
    path.write_bytes(orjson.dumps(spec))
    full = Tokenizer.from_file(str(path))
    assert _parsed(path.read_bytes())["decoder"] == spec["decoder"]
    ids = list(range(full.get_vocab_size()))
    assert decode_each(path, ids) == [full.decode([i], skip_special_tokens=False) for i in ids]
