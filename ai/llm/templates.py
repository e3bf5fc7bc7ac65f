"""Fixed reply per intent and language: the fallback when generation fails or is switched off,
and the second suggestion next to the generated one (a 270M base model's replies are often vague)."""

from __future__ import annotations

from ai.analysis import AnalysisContext

TEMPLATES: dict[str, dict[str, str]] = {
    "greeting": {"pt": "Olá{name}! Como posso ajudar?", "en": "Hi{name}! How can I help you?",
                 "es": "¡Hola{name}! ¿En qué puedo ayudarte?"},
    "pricing": {"pt": "Claro{name}! Vou te passar os valores. Qual produto te interessa?",
                "en": "Sure{name}! Which product would you like the price for?",
                "es": "¡Claro{name}! ¿De qué producto quieres saber el precio?"},
    "purchase": {"pt": "Ótimo{name}! Vou separar o seu pedido. Qual a quantidade?",
                 "en": "Great{name}! I'll set up your order. How many would you like?",
                 "es": "¡Genial{name}! Preparo tu pedido. ¿Qué cantidad quieres?"},
    "order_status": {"pt": "Vou verificar o pedido{order} agora mesmo e já te retorno.",
                     "en": "I'll check order{order} right away and get back to you.",
                     "es": "Reviso el pedido{order} ahora mismo y te aviso."},
    "support": {"pt": "Sinto muito pelo problema{name}. Pode me contar o que está acontecendo?",
                "en": "Sorry about that{name}. Could you tell me what is happening?",
                "es": "Lamento el problema{name}. ¿Me cuentas qué está pasando?"},
    "complaint": {"pt": "Sinto muito pelo ocorrido{name}. Vou resolver isso para você o quanto antes.",
                  "en": "I'm sorry about this{name}. I'll sort it out for you as soon as possible.",
                  "es": "Lamento lo ocurrido{name}. Lo resolveré lo antes posible."},
    "cancellation": {"pt": "Entendi{name}. Pode me confirmar o número do pedido para o cancelamento?",
                     "en": "Understood{name}. Could you confirm the order number to cancel?",
                     "es": "Entendido{name}. ¿Me confirmas el número de pedido para cancelarlo?"},
    "payment": {"pt": "Aceitamos Pix, cartão e boleto. Posso te ajudar com o pagamento?",
                "en": "We accept cards and bank transfer. Can I help you with the payment?",
                "es": "Aceptamos tarjeta y transferencia. ¿Te ayudo con el pago?"},
    "scheduling": {"pt": "Claro{name}! Qual dia e horário ficam melhores para você?",
                   "en": "Of course{name}! Which day and time work best for you?",
                   "es": "¡Claro{name}! ¿Qué día y hora te vienen mejor?"},
    "praise": {"pt": "Muito obrigado{name}! Ficamos felizes em ajudar.",
               "en": "Thank you so much{name}! We're happy to help.",
               "es": "¡Muchas gracias{name}! Nos alegra ayudarte."},
    "other": {"pt": "Obrigado pela mensagem{name}! Como posso ajudar?",
              "en": "Thanks for your message{name}! How can I help?",
              "es": "¡Gracias por tu mensaje{name}! ¿Cómo puedo ayudarte?"},
}


def template_reply(intent: str, language: str, context: AnalysisContext | None) -> str:
    by_language = TEMPLATES.get(intent, TEMPLATES["other"])
    template = by_language.get(language, by_language["en"])
    name = f", {context.customer_name}" if context and context.customer_name else ""
    order = f" {context.order_number}" if context and context.order_number else ""
    return template.format(name=name, order=order)
