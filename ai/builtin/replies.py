"""Suggested replies: 2-3 short templates per intent and language, personalised when we can.

Templates use three fragments so a missing name or order number never leaves a blank:
- {hi}: "Olá, Ana!" / "Olá!";  {name}: ", Ana" / "" (for "Obrigado{name}!");
- {order_the} / {order_of}: "o pedido #12345" / "o seu pedido" (and "do pedido #12345" / "do seu pedido").
"""

from __future__ import annotations

import re

TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "pt": {
        "greeting": (
            "{hi} Tudo bem? Como posso ajudar você hoje?",
            "{hi} Que bom falar com você. Em que posso ajudar?",
            "{hi} Estou à disposição. O que você precisa?",
        ),
        "pricing": (
            "{hi} Vou verificar os valores para você. Qual produto e quantidade você procura?",
            "{hi} Claro! Me informe o produto e o CEP que eu passo o valor com o frete.",
            "{hi} Temos condições especiais conforme a quantidade. Qual item te interessa?",
        ),
        "purchase": (
            "{hi} Que ótimo! Me confirma o produto, a quantidade e o tamanho/cor que eu preparo seu pedido.",
            "{hi} Perfeito, vamos fechar sua compra. Posso te enviar o link de pagamento?",
            "{hi} Claro! Vou confirmar a disponibilidade e já te retorno para finalizar.",
        ),
        "order_status": (
            "{hi} Vou consultar o status {order_of} agora mesmo e já te retorno.",
            "{hi} Só um instante, estou verificando o rastreio {order_of}.",
            "{hi} Sinto muito pela espera. Já estou verificando {order_the} com a transportadora.",
        ),
        "support": (
            "{hi} Claro, eu te ajudo! Pode me contar um pouco mais sobre o que está acontecendo?",
            "{hi} Vou te orientar passo a passo. Qual modelo ou aparelho você está usando?",
            "{hi} Posso ajudar com isso. Se puder, me envie um print ou mais detalhes.",
        ),
        "complaint": (
            "Sinto muito pelo transtorno{name}. Já estou verificando {order_the} para resolver logo.",
            "{hi} Peço desculpas pela experiência. Vou tratar seu caso com prioridade e retorno hoje.",
            "Lamento muito{name}. Pode me contar o que aconteceu (se possível com fotos) para eu resolver?",
        ),
        "cancellation": (
            "{hi} Posso ajudar. Vou verificar o cancelamento {order_of} e te explico os próximos passos.",
            "{hi} Entendido. Vou conferir {order_the} e te passo as opções de devolução ou reembolso.",
            "Tudo bem{name}. Antes de cancelar, posso ajudar a resolver o que aconteceu?",
        ),
        "payment": (
            "{hi} Aceitamos Pix, cartão de crédito (com parcelamento) e boleto. Qual forma você prefere?",
            "{hi} Vou verificar o pagamento {order_of} e já te confirmo.",
            "{hi} Claro! Posso te enviar a chave Pix, o boleto ou a nota fiscal. Do que você precisa?",
        ),
        "scheduling": (
            "{hi} Claro! Qual dia e horário ficam melhores para você?",
            "{hi} Vou verificar a agenda. Você prefere manhã ou tarde?",
            "{hi} Posso ver isso agora. Me diga a data desejada que eu confirmo a disponibilidade.",
        ),
        "praise": (
            "Muito obrigado{name}! Ficamos muito felizes com o seu retorno. 😊",
            "Que bom saber disso{name}! Conte sempre com a gente.",
            "Nós que agradecemos{name}! Qualquer coisa, estamos à disposição.",
        ),
        "other": (
            "{hi} Obrigado pelo contato. Como posso ajudar?",
            "{hi} Recebemos sua mensagem e vamos encaminhar ao setor responsável.",
            "{hi} Entendido. Se precisar de algo, é só chamar.",
        ),
    },
    "en": {
        "greeting": (
            "{hi} How can I help you today?",
            "{hi} Thanks for reaching out. What can I do for you?",
            "{hi} Happy to help. What do you need?",
        ),
        "pricing": (
            "{hi} I'll check the prices for you. Which product and quantity are you interested in?",
            "{hi} Sure! Let me know the item and your ZIP code and I'll send the total with shipping.",
            "{hi} We have special pricing for larger quantities. Which item would you like a quote for?",
        ),
        "purchase": (
            "{hi} Great choice! Please confirm the item, quantity and size/color and I'll set up your order.",
            "{hi} Perfect, let's get that ordered. Shall I send you the payment link?",
            "{hi} Sure! I'll confirm availability and get right back to you to finish the order.",
        ),
        "order_status": (
            "{hi} I'm checking the status of {order_the} right now and will update you shortly.",
            "{hi} One moment, I'm looking up the tracking for {order_the}.",
            "{hi} Sorry for the wait. I'm checking {order_the} with the carrier now.",
        ),
        "support": (
            "{hi} Happy to help! Could you tell me a bit more about what's happening?",
            "{hi} I'll walk you through it step by step. Which model or device are you using?",
            "{hi} I can help with that. If possible, please send a screenshot or a few more details.",
        ),
        "complaint": (
            "I'm really sorry about this{name}. I'm looking into {order_the} to fix it as soon as possible.",
            "{hi} I apologize for the experience. I'm escalating your case and will get back to you today.",
            "So sorry to hear that{name}. Could you tell me what happened (photos help) so I can fix it?",
        ),
        "cancellation": (
            "{hi} I can help with that. I'll cancel {order_the} and explain the next steps.",
            "{hi} Understood. I'll check {order_the} and share the return and refund options.",
            "No problem{name}. Before cancelling, is there anything I can do to fix the issue?",
        ),
        "payment": (
            "{hi} We accept credit/debit cards, bank transfer and PayPal. Which would you prefer?",
            "{hi} I'll check the payment for {order_the} and confirm shortly.",
            "{hi} Sure! I can send you the payment link or the invoice. What do you need?",
        ),
        "scheduling": (
            "{hi} Sure! What day and time work best for you?",
            "{hi} Let me check the schedule. Do you prefer morning or afternoon?",
            "{hi} I can look into that now. Tell me your preferred date and I'll confirm availability.",
        ),
        "praise": (
            "Thank you so much{name}! We're really glad to hear that. 😊",
            "That's great to hear{name}! We're always here for you.",
            "Thanks for the kind words{name}! Let us know if you ever need anything.",
        ),
        "other": (
            "{hi} Thanks for your message. How can I help?",
            "{hi} We got your message and will forward it to the right team.",
            "{hi} Understood. Let us know if you need anything.",
        ),
    },
    "es": {
        "greeting": (
            "{hi} ¿En qué le puedo ayudar hoy?",
            "{hi} Gracias por escribirnos. ¿Qué necesita?",
            "{hi} Con gusto le atiendo. ¿En qué le ayudo?",
        ),
        "pricing": (
            "{hi} Con gusto le paso los precios. ¿Qué producto y cantidad le interesan?",
            "{hi} ¡Claro! Indíqueme el producto y su ciudad y le paso el total con envío.",
            "{hi} Tenemos precios especiales por cantidad. ¿Qué artículo le interesa cotizar?",
        ),
        "purchase": (
            "{hi} ¡Excelente! Confírmeme el producto, la cantidad y la talla/color y preparo su pedido.",
            "{hi} Perfecto, cerramos su compra. ¿Le envío el enlace de pago?",
            "{hi} ¡Claro! Confirmo la disponibilidad y le escribo enseguida para finalizar.",
        ),
        "order_status": (
            "{hi} Estoy revisando el estado {order_of} y le confirmo en unos minutos.",
            "{hi} Un momento, consulto el seguimiento {order_of}.",
            "{hi} Disculpe la espera. Ya estoy revisando {order_the} con la paquetería.",
        ),
        "support": (
            "{hi} ¡Con gusto le ayudo! ¿Me cuenta un poco más de lo que sucede?",
            "{hi} Le guío paso a paso. ¿Qué modelo o dispositivo está usando?",
            "{hi} Puedo ayudarle con eso. Si puede, envíeme una captura o más detalles.",
        ),
        "complaint": (
            "Lamento mucho las molestias{name}. Ya estoy revisando {order_the} para resolverlo cuanto antes.",
            "{hi} Le pido disculpas por la experiencia. Daré prioridad a su caso y le respondo hoy mismo.",
            "Lo sentimos mucho{name}. ¿Me cuenta qué pasó (si puede, con fotos) para solucionarlo?",
        ),
        "cancellation": (
            "{hi} Puedo ayudarle. Reviso la cancelación {order_of} y le explico los siguientes pasos.",
            "{hi} Entendido. Reviso {order_the} y le paso las opciones de devolución o reembolso.",
            "Está bien{name}. Antes de cancelar, ¿hay algo que podamos resolver?",
        ),
        "payment": (
            "{hi} Aceptamos tarjeta de crédito/débito, transferencia y efectivo. ¿Cuál prefiere?",
            "{hi} Verifico el pago {order_of} y le confirmo enseguida.",
            "{hi} ¡Claro! Le puedo enviar el enlace de pago o la factura. ¿Qué necesita?",
        ),
        "scheduling": (
            "{hi} ¡Claro! ¿Qué día y horario le quedan mejor?",
            "{hi} Reviso la agenda. ¿Prefiere por la mañana o por la tarde?",
            "{hi} Lo veo ahora mismo. Dígame la fecha que prefiere y le confirmo la disponibilidad.",
        ),
        "praise": (
            "¡Muchas gracias{name}! Nos alegra mucho saberlo. 😊",
            "¡Qué bueno saberlo{name}! Aquí estamos para lo que necesite.",
            "¡Gracias a usted{name}! Cualquier cosa, estamos a la orden.",
        ),
        "other": (
            "{hi} Gracias por su mensaje. ¿En qué le puedo ayudar?",
            "{hi} Recibimos su mensaje y lo pasaremos al área correspondiente.",
            "{hi} Entendido. Si necesita algo, aquí estamos.",
        ),
    },
}

_HELLO = {"pt": "Olá", "en": "Hi", "es": "Hola"}
_OPEN = {"pt": "", "en": "", "es": "¡"}  # Spanish opens exclamations
_ORDER_THE = {
    "pt": ("o pedido #{n}", "o seu pedido"),
    "en": ("order #{n}", "your order"),
    "es": ("el pedido #{n}", "su pedido"),
}
_ORDER_OF = {
    "pt": ("do pedido #{n}", "do seu pedido"),
    "en": ("order #{n}", "your order"),
    "es": ("del pedido #{n}", "de su pedido"),
}
# Names come from the WhatsApp contact: keep the first name, drop emoji and junk.
_NAME_RE = re.compile(r"[^\W\d_][\w'\-]*", re.UNICODE)


def first_name(name: str | None) -> str | None:
    """'ana paula 🌸' -> 'Ana'; phone-number-like or empty names -> None."""
    if not name:
        return None
    match = _NAME_RE.search(name)
    if match is None:
        return None
    word = match.group(0)
    return word[:1].upper() + word[1:] if word.islower() else word


def suggest_replies(
    intent: str, language: str, name: str | None = None, order_number: str | None = None
) -> list[str]:
    """Filled templates for one intent (falls back to 'other' and to Portuguese)."""
    templates = TEMPLATES.get(language) or TEMPLATES["pt"]
    lang = language if language in TEMPLATES else "pt"
    chosen = templates.get(intent) or templates["other"]
    person = first_name(name)
    order = order_number.lstrip("#") if order_number else None
    known, unknown = _ORDER_THE[lang]
    known_of, unknown_of = _ORDER_OF[lang]
    fragments = {
        "hi": f"{_OPEN[lang]}{_HELLO[lang]}, {person}!" if person else f"{_OPEN[lang]}{_HELLO[lang]}!",
        "name": f", {person}" if person else "",
        "order_the": known.format(n=order) if order else unknown,
        "order_of": known_of.format(n=order) if order else unknown_of,
    }
    return [template.format_map(fragments) for template in chosen]


def greeting(language: str, name: str | None = None) -> str:
    """The {hi} fragment of the templates: "Olá, Ana!" / "Olá!" ("¡Hola, Ana!" in Spanish)."""
    lang = language if language in TEMPLATES else "pt"
    person = first_name(name)
    return f"{_OPEN[lang]}{_HELLO[lang]}, {person}!" if person else f"{_OPEN[lang]}{_HELLO[lang]}!"
