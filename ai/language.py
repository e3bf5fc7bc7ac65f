"""Fast language identification for short customer chat messages: 'pt' | 'en' | 'es'.

Scores each language by its stopwords/chat words (accent-folded tokens) plus a few letters only
one language uses (ã/õ/ç for pt, ñ/¿/¡ for es). Short messages work because greetings and chat
abbreviations ("oi", "vc", "hola", "porfa", "hi", "pls") are in the lists. When nothing decides,
the caller's default wins: a wrong guess costs more than the deployment's usual language.
"""

from __future__ import annotations

import re
import unicodedata
from operator import itemgetter

LANGUAGES = ("pt", "en", "es")

# Words that mostly mean one language in customer chat. Weight 1.0 unless listed under "weak".
_WORDS = {
    "pt": """
    oi oie ola voce voces vc vcs nao obrigado obrigada obg obgd brigado brigada tudo bem bom boa pra pro meu
    minha seu sua estou ta to tava tem quero queria gostaria quanto quanta quantos qual quais onde cade kd
    sim muito muita mto mt tambem tb tbm ainda ja hoje hj amanha aqui agora isso esse essa isto ele ela um
    uma do da dos das ao aos eu fazer faz pode posso consigo chegou frete preco valor blz vlw pfv
    ne entao pq beleza moca atendimento voces obrigadao valeu parabens amei adorei trocar
    encomenda rastreio boleto pix cartao parcela nota fiscal horario marcar agendar consulta
    loja produto veio chegou falar ajuda favor tchau abraco mesmo noite vou vai ate depois
    kkk kkkk rs sera seria gente coisa servico desconto nossa sou cê tchau pois moco oii oie olaa eae blz
    voce seus suas dela dele nosso comigo contigo pegar ficar fica ficou estava entao ne em
    oq nd qnd flw aff mano terca quarta quinta sexta feira obrigadu vcs tbm msm dps pfvr agr cmg mds
    reclamar ate estou voltou comprei pedi paguei fiz marquei remarcar desmarcar
    ontem semana algum alguma nenhum mais menos so bom dia quando como
    estava estao sao foi fui tenho tive tinha fiz posso precisa preciso gostei recebi mandei enviei
    """,
    "en": """
    the an i you u my your is are was were it this that to of and in on for with how what where when
    can could do does did hi hello hey thanks thank please pls plz order want need have has not yes
    good morning much price lol im i'm dont don't get got just will would should there here they we our
    me be been if or but so any some from about at by delivery shipping refund cancel account password
    help store open hours appointment book buy card pay payment invoice still yet already today tomorrow
    sorry wrong number who why which thx ty ur r guys please love great awesome bad terrible worst
    hii heyy hiya customer service since tracking updated seriously spamming sending stop guys thanks
    week yesterday morning night store their them those these there where's how's you're we're
    its it's i've i'd i'll can't won't didn't doesn't isn't haven't hasn't arrived received
    cheers mate sorted np lmao omg btw tbh idk asap wanna gonna gotta yall kinda lemme gimme dunno
    pls thx ty tysm ur u r wont cant dont didnt doesnt thanks appreciate wrong works fine
    """,
    "es": """
    hola gracias usted ustedes tu yo el los las del al es estoy quiero necesito puedo puede cuanto cuanta
    cuando donde mi mis su sus muy mucho mucha pero tambien hoy manana aqui ahora eso esto ese esa hay
    tienen tiene envio precio buenas buenos dias tardes noches bueno buena vale si llega llego jaja jajaja
    xq porfa le lo con sin en pa hace hacer hago pago pedido quisiera tengo necesita ayuda nadie
    tarjeta cuotas factura cita turno horario abren cierran tienda producto llegado enviado compre
    cancelar devolver reembolso gusto encanto encanta encantado quiere cuesta cuestan tenemos somos
    estamos estan fue tal buen dia senor senora vez veces ya todavia aun pues entonces asi algo
    holaa holaaa holi buenass onda uy oye mejor solo les nos tengo tienes servicio descuento mayoreo
    efectivo aceptan equivocado disculpe serio queja apaga llevo pasame sacame saquenme ayer semana
    dinero envios compra compre contigo usted nuestro nuestra gusta gustaria ahi aca alla chao adios
    grax perfecto perfecta fascino fascina lunes martes miercoles jueves viernes wey guey che vos sos
    tenes podes queres porfis xfa tio tia chamarra coche plata reclamo quejas queja cuanto estoy esta
    ustedes pedi pague hice compre llegue volvio
    """,
}
# Shared by two of the languages (or by all): half weight, so they break ties but never decide alone.
_WEAK = {
    "pt": "que de o e no na se me te para por com como mais",
    "es": "que de e no se me te para por como mas la un una",
    "en": "no me so a",
}
# Words that exist in the lists above for one language but are frequent in another: remove the clash.
_CLASH = {"pt": set(), "es": set(), "en": set()}


def _fold_table() -> dict[int, str]:
    """Accented Latin letters -> base letters (kept local so this module imports nothing of ours)."""
    table: dict[int, str] = {}
    for code in range(0x00C0, 0x0250):
        base = "".join(c for c in unicodedata.normalize("NFD", chr(code)) if not unicodedata.combining(c))
        if base and base != chr(code) and base.isascii():
            table[code] = base.lower()
    table[0x2019] = "'"
    return table


_FOLD = _fold_table()
_TOKEN_RE = re.compile(r"[a-z']+")
# Brand/loan words every language uses; they must not count as English spelling.
_LOANWORDS_RE = re.compile(r"\b(?:whatsapp|whats|wpp|zap|wifi|wi-fi|web|website|show|delivery|online)\b")
# Spelling habits: weak evidence that still decides when no listed word is present.
_SPELLING_CUES = {
    "pt": (re.compile(r"nh|lh|cao\b|coes\b|(?<!y)ou\b|ei\b|dade\b"), 0.6),
    "es": (re.compile(r"ll|(?<![qg])ue|cion\b|dad\b|aron\b|ieron\b"), 0.6),
    "en": (re.compile(r"th|w|sh|ck|ing\b|ly\b"), 0.5),
}
_PT_LETTERS = re.compile(r"[ãõçâêô]")
_ES_LETTERS = re.compile(r"[ñ¿¡]")
_EN_CONTRACTION = re.compile(r"\b\w+'(?:s|t|re|ve|ll|d|m)\b")


def _build_weights() -> dict[str, dict[str, float]]:
    weights: dict[str, dict[str, float]] = {}
    for language in LANGUAGES:
        table = dict.fromkeys(_WORDS[language].split(), 1.0)
        for word in _WEAK.get(language, "").split():
            table[word] = 0.5
        for word in _CLASH[language]:
            table.pop(word, None)
        weights[language] = table
    # A word listed as strong in two languages is not evidence for either one over the other.
    for word in set(weights["pt"]) & set(weights["es"]):
        if weights["pt"][word] == 1.0 and weights["es"][word] == 1.0:
            weights["pt"][word] = weights["es"][word] = 0.5
    return weights


_WEIGHTS = _build_weights()
_score_of = itemgetter(1)


def _build_combined(weights: dict[str, dict[str, float]]) -> dict[str, tuple[float, float, float]]:
    """token -> (pt, en, es) weights: one lookup per token instead of three."""
    pt, en, es = weights["pt"], weights["en"], weights["es"]
    return {word: (pt.get(word, 0.0), en.get(word, 0.0), es.get(word, 0.0)) for word in {*pt, *en, *es}}


_COMBINED = _build_combined(_WEIGHTS)
_SPELLING_ORDER = tuple((language, pattern.findall, weight) for language, (pattern, weight) in _SPELLING_CUES.items())


# Most a language can gain after the word scores: spelling cues (at most 3 hits), its letters, contractions.
_MAX_SPELLING = {language: 3 * weight for language, (_, weight) in _SPELLING_CUES.items()}
_LETTER_BONUS = 2.0
_TIE = 0.3  # closer than this, the top two are a tie
_SLACK = 1e-9  # far above float rounding of these small sums


def _word_scores(text: str) -> tuple[str, str, bool, float, float, float]:
    """(lowered, folded, ascii_only, pt, en, es): the stopword evidence, before any letter/spelling cue."""
    lowered = text.lower()
    ascii_only = lowered.isascii()
    # _FOLD maps no ASCII character, so ASCII text is already folded
    folded = lowered if ascii_only else lowered.translate(_FOLD)
    pt = en = es = 0.0
    combined = _COMBINED
    for token in _TOKEN_RE.findall(folded):
        weights = combined.get(token)
        if weights is not None:  # adding 0.0 for an unknown word changes no sum, so it is skipped
            pt += weights[0]
            en += weights[1]
            es += weights[2]
    return lowered, folded, ascii_only, pt, en, es


def _all_scores(
    lowered: str, folded: str, ascii_only: bool, pt: float, en: float, es: float
) -> dict[str, float]:
    scores = {"pt": pt, "en": en, "es": es}
    spelled = _LOANWORDS_RE.sub(" ", folded) if "w" in folded else folded
    for language, findall, weight in _SPELLING_ORDER:
        hits = len(findall(spelled))
        if hits:
            scores[language] += min(hits, 3) * weight
    if not ascii_only:  # the letters below are all non-ASCII
        if _PT_LETTERS.search(lowered):
            scores["pt"] += 2.0
        if _ES_LETTERS.search(lowered):
            scores["es"] += 2.0
    if "'" in folded and _EN_CONTRACTION.search(folded):
        scores["en"] += 1.0
    return scores


def language_scores(text: str) -> dict[str, float]:
    """Evidence per language (exposed for tests and for the analyzer's confidence)."""
    return _all_scores(*_word_scores(text))


def _clear_winner(lowered: str, folded: str, ascii_only: bool, pt: float, en: float, es: float) -> str | None:
    """The language whose word evidence is so far ahead that no later cue can make it lose or tie.

    Every later cue only adds, and by a bounded amount: if the leader's lead over each other
    language exceeds what that language can still gain (+ the tie band), the full scoring would
    rank it first by more than the tie band, so the spelling regexes need not run.
    """
    words = {"pt": pt, "en": en, "es": es}
    best = max(words, key=words.__getitem__)
    pt_letters = es_letters = False
    if not ascii_only:
        pt_letters = _PT_LETTERS.search(lowered) is not None
        es_letters = _ES_LETTERS.search(lowered) is not None
    floor = words[best]  # the leader's final score is at least this (+ its sure bonuses)
    if (best == "pt" and pt_letters) or (best == "es" and es_letters):
        floor += _LETTER_BONUS
    for language, score in words.items():
        if language == best:
            continue
        ceiling = score + _MAX_SPELLING[language]
        if (language == "pt" and pt_letters) or (language == "es" and es_letters):
            ceiling += _LETTER_BONUS
        if language == "en" and "'" in folded:
            ceiling += 1.0
        if floor - ceiling <= _TIE + _SLACK:
            return None
    return best


def detect_language(text: str, default: str = "pt") -> str:
    """'pt' | 'en' | 'es' for one message; empty or undecidable text returns default."""
    if not text or not text.strip():
        return default
    partial = _word_scores(text)
    winner = _clear_winner(*partial)
    if winner is not None:
        return winner
    scores = _all_scores(*partial)
    ranked = sorted(scores.items(), key=_score_of, reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    if top <= 0.0:
        return default
    if top - second < 0.3:
        # a tie: the default wins if it is among the leaders, otherwise it is undecidable
        leaders = [language for language, score in ranked if top - score < 0.3]
        return default if default in leaders or len(leaders) > 1 else best
    return best
