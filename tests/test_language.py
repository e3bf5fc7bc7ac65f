"""Language detection for short customer chat messages."""

import pytest

from ai.language import detect_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("oi", "pt"),
        ("olá, tudo bem?", "pt"),
        ("vc tem o tênis 42?", "pt"),
        ("quanto custa o frete?", "pt"),
        ("meu pedido não chegou", "pt"),
        ("obg!", "pt"),
        ("hola", "es"),
        ("buenos días", "es"),
        ("cuánto cuesta el envío?", "es"),
        ("mi pedido no llega", "es"),
        ("porfa", "es"),
        ("¿aceptan tarjeta?", "es"),
        ("hi", "en"),
        ("hello there", "en"),
        ("how much is shipping?", "en"),
        ("where's my order", "en"),
        ("thx", "en"),
        ("I can't log in", "en"),
    ],
)
def test_detects_each_language(text, expected):
    assert detect_language(text) == expected
    # the default must not override a clear signal
    assert detect_language(text, default="es" if expected != "es" else "en") == expected


@pytest.mark.parametrize("text", ["", "   ", "👍", "ok", "12345", "?!"])
def test_ambiguous_or_empty_returns_default(text):
    assert detect_language(text) == "pt"
    assert detect_language(text, default="en") == "en"
    assert detect_language(text, default="es") == "es"


def test_accents_and_letters_are_strong_cues():
    assert detect_language("ação") == "pt"
    assert detect_language("señor") == "es"


def test_always_returns_a_supported_code():
    for text in ["asdf qwer", "kkkkkk", "jajaja", "lol", "@#$%", "pedido 123"]:
        assert detect_language(text) in {"pt", "en", "es"}
