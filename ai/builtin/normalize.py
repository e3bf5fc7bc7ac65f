"""Text normalisation shared by the language detector, the sentiment scorer and the intent matcher.

Everything downstream works on one cheap canonical form: lower-case, accents folded to ASCII,
letter runs squashed ("diaaa" -> "dia"), chat spelling expanded ("vc" -> "voce") and split into
tokens (words, "!", "?", single emoji/symbol characters). Building it costs a few microseconds, so
the analyzer does it once per message and every stage reuses the result.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


def _build_fold_table() -> dict[int, str]:
    """Map every accented Latin letter to its base letter (é -> e, ç -> c, ñ -> n).

    str.translate with a prebuilt table is ~10x faster than NFD-decomposing every message.
    """
    table: dict[int, str] = {}
    for code in range(0x00C0, 0x0250):
        char = chr(code)
        base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
        if base and base != char and base.isascii():
            table[code] = base.lower()
    # Typographic quotes and dashes people paste from other apps.
    table.update({0x2019: "'", 0x2018: "'", 0x00B4: "'", 0x0060: "'", 0x2013: "-", 0x2014: "-"})
    # Variation selectors / zero-width joiners / skin tones carry no meaning for us.
    for code in (0xFE0F, 0xFE0E, 0x200D, 0x200B):
        table[code] = ""
    for code in range(0x1F3FB, 0x1F400):
        table[code] = ""
    return table


FOLD_TABLE = _build_fold_table()

# "siiiim", "diaaa", "!!!!" -> one character; two stay (good, cool, "hii") because they are real spelling.
_RUN_RE = re.compile(r"(\w)\1{2,}")
# Any character three times in a row: a cheaper scan that must succeed before _RUN_RE can.
_ANY_RUN_RE = re.compile(r"(.)\1\1")
# Laughter in its usual spellings collapses to one neutral token ("kkkk", "hahaha", "jajaja", "rsrs").
_LAUGH_RE = re.compile(
    r"\b(?:k{3,}|(?:ha){2,}h?|(?:he){2,}|(?:ja){2,}j?|(?:je){2,}|(?:rs){2,}|lol|lmao|kkk+)\b"
)
# Text emoticons become the emoji they stand for before punctuation is split apart.
_EMOTICON_RE = re.compile(r"(?<!\S)(?::-?\)+|:-?d\b|\(:|:-?\(+|;-?\)|<3)")
_EMOTICON_EMOJI = {":)": "😊", ":d": "😁", "(:": "😊", ":(": "🙁", ";)": "😉", "<3": "❤"}


def _emoticon_to_emoji(match: re.Match[str]) -> str:
    """':-)))' -> '😊' (nose and repeated mouths dropped before the lookup)."""
    face = match.group(0).replace("-", "")[:2]
    return " " + _EMOTICON_EMOJI.get(face, "") + " "


# Words (letters, digits, apostrophes inside), or any single non-space symbol (punctuation, emoji).
_TOKEN_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)?|[^\w\s]")
# Order numbers: "pedido 12345", "order #A1234", "#12345", "n° 1234", "orden 5531".
ORDER_NUMBER_RE = re.compile(
    r"(?:(?:pedido|encomenda|order|orden|compra|protocolo|n[º°o]\.?)\s*(?:n[º°o]\.?\s*)?#?\s*"
    r"([A-Za-z]{0,3}\d{3,12})\b|#\s?([A-Za-z]{0,3}\d{3,12})\b)",
    re.IGNORECASE,
)
_THREE_DIGITS_RE = re.compile(r"\d{3}")

# Chat spelling shared by the three languages, then per-language. Values may be several words.
_COMMON_SPELLING = {
    "tb": "tambem",
    "tbm": "tambem",
    "tmb": "tambien",
    "q": "que",
    "k": "que",
    "msg": "mensagem",
    "ok": "ok",
    "okay": "ok",
    "okey": "ok",
    "vlw": "valeu",
    "blz": "beleza",
    "pls": "please",
    "plz": "please",
    "thx": "thanks",
    "thks": "thanks",
    "tks": "thanks",
    "ty": "thank you",
    "grax": "gracias",
    "graxias": "gracias",
    "np": "no problem",
}
_SPELLING = {
    "pt": {
        "vc": "voce",
        "vcs": "voces",
        "pq": "por que",
        "ta": "esta",
        "tah": "esta",
        "to": "estou",
        "tou": "estou",
        "tava": "estava",
        "obg": "obrigado",
        "obgd": "obrigado",
        "obgda": "obrigada",
        "brigado": "obrigado",
        "brigada": "obrigada",
        "qto": "quanto",
        "qnto": "quanto",
        "qt": "quanto",
        "qnt": "quanto",
        "qtos": "quantos",
        "qnts": "quantos",
        "qtas": "quantas",
        "td": "tudo",
        "tds": "todos",
        "mt": "muito",
        "mto": "muito",
        "mta": "muita",
        "mtos": "muitos",
        "n": "nao",
        "num": "nao",
        "hj": "hoje",
        "pfv": "por favor",
        "pf": "por favor",
        "pfvr": "por favor",
        "qnd": "quando",
        "qdo": "quando",
        "cmg": "comigo",
        "ctz": "certeza",
        "dps": "depois",
        "msm": "mesmo",
        "nd": "nada",
        "ngm": "ninguem",
        "kd": "cade",
        "oq": "o que",
        "pra": "para",
        "pro": "para o",
        "pros": "para os",
        "tô": "estou",
        "tá": "esta",
        "neh": "ne",
        "eh": "e",
        "tbem": "tambem",
        "agr": "agora",
        "flw": "falou",
        "abs": "abracos",
        "bjs": "beijos",
        "sdds": "saudades",
        "vdd": "verdade",
        "mds": "meu deus",
        "vdc": "voce",
        "cel": "celular",
        "add": "adicionar",
        "qm": "quem",
        "ql": "qual",
        "sla": "sei la",
        "tmj": "tamo junto",
        "nf": "nota fiscal",
        "nfe": "nota fiscal",
        "dnv": "de novo",
        "aki": "aqui",
        "aq": "aqui",
        "vo": "vou",
        "qndo": "quando",
        "qq": "qualquer",
        "agnt": "a gente",
        "hrs": "horas",
        "hr": "hora",
        "qr": "quer",
        "pdc": "pode crer",
        "fds": "fim de semana",
        "amg": "amigo",
        "nois": "nos",
        "cv": "curriculo",
        "gnt": "gente",
        "obgdo": "obrigado",
        "obrigadu": "obrigado",
        "pfvor": "por favor",
        "mandao": "manda",
        "sdd": "saudade",
        "encerrem": "encerrar",
    },
    "en": {
        "u": "you",
        "ur": "your",
        "r": "are",
        "y": "why",
        "rn": "right now",
        "tmrw": "tomorrow",
        "tmr": "tomorrow",
        "tomoz": "tomorrow",
        "idk": "i don't know",
        "im": "i'm",
        "ive": "i've",
        "dont": "don't",
        "cant": "can't",
        "wont": "won't",
        "doesnt": "doesn't",
        "didnt": "didn't",
        "isnt": "isn't",
        "wasnt": "wasn't",
        "hasnt": "hasn't",
        "havent": "haven't",
        "aint": "ain't",
        "wouldnt": "wouldn't",
        "couldnt": "couldn't",
        "shouldnt": "shouldn't",
        "arent": "aren't",
        "whats": "what's",
        "wheres": "where's",
        "hows": "how's",
        "thats": "that's",
        "its": "it's",
        "ill": "i'll",
        "gonna": "going to",
        "wanna": "want to",
        "gotta": "got to",
        "b4": "before",
        "2day": "today",
        "2morrow": "tomorrow",
        "pls": "please",
        "msg": "message",
        "asap": "asap",
        "bc": "because",
        "cuz": "because",
        "coz": "because",
        "nvm": "never mind",
        "tho": "though",
        "thru": "through",
        "w": "with",
        "wo": "without",
        "abt": "about",
        "appt": "appointment",
        "acct": "account",
        "pw": "password",
        "pwd": "password",
        "k": "ok",
        "kk": "ok",
        "ppl": "people",
        "cust": "customer",
        "pkg": "package",
        "thnx": "thanks",
        "tyvm": "thank you",
        "sry": "sorry",
        "smth": "something",
        "srsly": "seriously",
        "ya": "you",
        "ya'll": "you all",
        "yall": "you all",
        "y'all": "you all",
        "lemme": "let me",
        "gimme": "give me",
        "dunno": "don't know",
        "prob": "probably",
        "tix": "tickets",
        "bday": "birthday",
        "wknd": "weekend",
        "wk": "week",
        "hrs": "hours",
        "hr": "hour",
        "mins": "minutes",
        "min": "minutes",
        "appts": "appointments",
        "apt": "apartment",
        "acc": "account",
        "info": "information",
        "pic": "picture",
        "pics": "pictures",
        "ok'd": "ok",
        "cya": "see you",
        "gr8": "great",
        "thanx": "thanks",
        "thnks": "thanks",
        "tysm": "thank you",
        "ily": "love you",
    },
    "es": {
        "xq": "porque",
        "pq": "porque",
        "porq": "porque",
        "x": "por",
        "xa": "para",
        "pa": "para",
        "porfa": "por favor",
        "porfis": "por favor",
        "xfa": "por favor",
        "pf": "por favor",
        "pfv": "por favor",
        "dnd": "donde",
        "toy": "estoy",
        "tamos": "estamos",
        "bn": "bien",
        "grax": "gracias",
        "msj": "mensaje",
        "ntp": "no te preocupes",
        "tqm": "te quiero mucho",
        "salu2": "saludos",
        "tb": "tambien",
        "tmb": "tambien",
        "q": "que",
        "k": "que",
        "ke": "que",
        "xk": "porque",
        "sq": "es que",
        "dsp": "despues",
        "mñn": "manana",
        "hr": "hora",
        "hrs": "horas",
        "finde": "fin de semana",
        "cel": "celular",
        "info": "informacion",
        "ps": "pues",
        "vdd": "verdad",
        "weno": "bueno",
        "wena": "buena",
        "aki": "aqui",
        "ola": "hola",
        "xfavor": "por favor",
        "porfavor": "por favor",
        "xfis": "por favor",
        "bno": "bueno",
        "sta": "esta",
        "stoy": "estoy",
        "nd": "nada",
        "nadien": "nadie",
        "boleto": "billete",
        "boletos": "billetes",
        "d": "de",
        "sr": "senor",
        "sra": "senora",
        "wey": "guey",
    },
}
_SPELLING_BY_LANG = {lang: {**_COMMON_SPELLING, **table} for lang, table in _SPELLING.items()}
# The same tables with every replacement already split into its tokens.
_SPELLING_TOKENS = {
    lang: {token: tuple(value.split(" ")) for token, value in table.items()}
    for lang, table in _SPELLING_BY_LANG.items()
}


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """The canonical form of one message."""

    tokens: tuple[str, ...]  # folded, expanded tokens, punctuation and emoji included
    joined: str  # " ".join(tokens) padded with spaces, for phrase regexes
    exclamations: int  # how many "!" (intensity)
    is_question: bool  # contains "?" (questions are requests, not opinions)
    shouting: bool  # mostly upper-case words (intensity)


def fold(text: str) -> str:
    """Lower-case and strip accents; keeps emoji and punctuation."""
    lowered = text.lower()
    if lowered.isascii():
        # the only ASCII entry of FOLD_TABLE is the backtick; skip translate()'s per-character lookups
        return lowered.replace("`", "'") if "`" in lowered else lowered
    return lowered.translate(FOLD_TABLE)


def tokenize(folded: str) -> list[str]:
    """Split folded text into word tokens and single-symbol tokens."""
    if "kk" in folded or "ha" in folded or "ja" in folded or "rs" in folded or "lol" in folded:
        folded = _LAUGH_RE.sub(" risos ", folded)
    if ":" in folded or ";" in folded or "<3" in folded:
        folded = _EMOTICON_RE.sub(_emoticon_to_emoji, folded)
    if _ANY_RUN_RE.search(folded) is not None:  # a word-character run needs 3 equal characters in a row
        folded = _RUN_RE.sub(r"\1", folded)
    return _TOKEN_RE.findall(folded)


def _is_shouting(text: str) -> bool:
    """True when most letters are upper-case in a message long enough for that to mean emphasis."""
    letters = list(filter(str.isalpha, text))
    if len(letters) < 6:
        return False
    return sum(map(str.isupper, letters)) / len(letters) > 0.7


def normalize(text: str, language: str) -> NormalizedText:
    """Normalise one message for the given language ('pt' | 'en' | 'es')."""
    spelling = _SPELLING_TOKENS.get(language, _SPELLING_TOKENS["pt"])
    found = tokenize(fold(text))
    if spelling.keys().isdisjoint(found):
        tokens = tuple(found)
    else:
        expanded: list[str] = []
        get = spelling.get
        for token in found:
            replacement = get(token)
            if replacement is None:
                expanded.append(token)
            else:
                expanded.extend(replacement)
        tokens = tuple(expanded)
    return NormalizedText(
        tokens=tokens,
        joined=" " + " ".join(tokens) + " ",
        exclamations=text.count("!"),
        is_question="?" in text or "¿" in text,
        shouting=_is_shouting(text),
    )


def find_order_number(text: str) -> str | None:
    """The order number the customer quotes ("pedido 12345", "#12345"), if any."""
    if _THREE_DIGITS_RE.search(text) is None:
        return None  # both forms need 3+ digits in a row: most messages stop at this cheap scan
    match = ORDER_NUMBER_RE.search(text)
    if match is None:
        return None
    return match.group(1) or match.group(2)
