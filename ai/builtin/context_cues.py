"""Cue tables for the conversation context resolver (ai/builtin/context.py): data only, pt / en / es together.

Phrases are in the normalised form (ai/builtin/normalize.py: lower-case, no accents, chat spelling expanded, so
"pra" is "para" and "vc" is "voce") and match whole tokens anywhere in a short reply. The three languages share
one table per kind because a two-word reply is too short for the language detector to be trusted ("sure" reads
as Portuguese).
"""

from __future__ import annotations

# A short reply that says yes / goes ahead: it takes the intent of what the seller proposed.
AFFIRMATIONS = (
    # pt
    "sim", "s", "ss", "pode ser", "pode", "pode sim", "ok", "fechado", "fechou", "fecha", "pode fechar",
    "pode mandar", "manda", "mande", "pode enviar", "envia", "quero", "quero sim", "vou querer", "bora", "claro",
    "com certeza", "isso", "isso mesmo", "perfeito", "beleza", "combinado", "pode separar", "separa", "pode reservar",
    "aceito", "tudo bem", "ta bom", "ta", "demorou", "show", "fechamos", "pode ser sim", "quero esse", "quero essa",
    "pode cobrar", "manda o link", "manda o pix", "me manda",
    # en
    "yes", "yeah", "yep", "yup", "sure", "deal", "go ahead", "please do", "sounds good", "of course", "okay",
    "alright", "i'll take it", "i will take it", "let's do it", "lets do it", "do it", "send it", "perfect",
    "great", "absolutely", "definitely", "that works", "works for me", "i want it", "book it",
    # es
    "si", "dale", "vale", "perfecto", "de acuerdo", "listo", "hagamoslo", "va", "mandalo", "envialo", "lo quiero",
    "la quiero", "claro que si", "por supuesto", "me lo llevo", "me la llevo", "esta bien", "bueno", "adelante",
)

# A reply that takes back what was agreed: after an order or a purchase it is a cancellation.
WITHDRAWALS = (
    # pt
    "nao quero mais", "desisto", "desisti", "deixa para la", "deixa quieto", "nao vou querer", "mudei de ideia",
    "nao precisa mais", "melhor nao", "esquece", "pode cancelar", "nao quero", "nao vou mais querer",
    "nao vou levar", "deixa", "nao precisa",
    # en
    "never mind", "nevermind", "i no longer want", "no longer want", "don't want it anymore", "dont want it anymore",
    "i don't want it", "i dont want it", "changed my mind", "forget it", "not anymore", "cancel it", "i'll pass",
    "i will pass",
    # es
    "ya no quiero", "ya no lo quiero", "ya no la quiero", "olvidalo", "cambie de opinion", "mejor no", "no lo quiero",
    "no la quiero", "ya no", "dejalo", "ya no me interesa",
)

# The opening of an elliptical follow-up ("e pra SP?", "and to NY?", "y para Lima?"): it asks the previous
# question again about something else, so it has the previous question's intent.
FOLLOW_UP_OPENINGS = (
    "e", "e para", "e se", "e o", "e a", "e no", "e na", "e em", "e os", "e as", "e pro", "e com",
    "and", "and for", "and to", "what about", "how about", "and if", "and the",
    "y", "y para", "y si", "y el", "y la", "y en", "y a", "y con", "y los", "y las",
)

# What a seller writes to offer a product or to propose closing the sale ("temos a azul em M", "posso
# separar?", "would you like it?"): an affirmation after it is a purchase even when the offer itself reads as
# "other" to the intent matcher.
SELLER_OFFERS = (
    # pt
    "temos", "tenho", "tem sim", "posso fechar", "posso separar", "posso reservar",
    "quer levar", "vai querer", "vai levar", "fechamos", "fecho", "fechar o pedido",
    "link de pagamento", "link para pagamento", "chave pix", "segue o pix", "fica por", "sai por",
    "disponivel", "em estoque",
    # en
    "we have", "i have", "can i place", "place the order", "close the deal",
    "payment link", "checkout link", "in stock", "available",
    # es
    "tenemos", "tengo", "te interesa", "le interesa", "cierro", "cerramos", "cerrar el pedido", "te lo aparto",
    "te la aparto", "lo aparto", "link de pago", "enlace de pago", "disponible",
    "hay stock",
)

# The seller's question -> the intent of a customer's "yes" to it, when it has no SELLER_OFFERS cue (an offer to
# sell makes the "yes" a purchase whatever else it mentions: "te lo aparto para el sabado?"). A question about
# price or payment is an offer to sell too; anything else keeps its own intent ("posso agendar para amanha?" ->
# "sim" is scheduling; "quer que eu cancele?" -> "sim" is a cancellation).
AFFIRMED_INTENT = {
    "pricing": "purchase",
    "purchase": "purchase",
    "payment": "purchase",
    "order_status": "order_status",
    "scheduling": "scheduling",
    "cancellation": "cancellation",
    "support": "support",
}

# What a withdrawal takes back: an order in the making or made.
WITHDRAWN_INTENTS = ("purchase", "payment", "order_status", "pricing")

# Words that name an order in an earlier message ("I ordered the blue one", "seu pedido sai amanha"): a withdrawal
# after one is a cancellation whatever that message's own intent was.
ORDER_MENTIONS = (
    "pedido", "pedi", "encomenda", "encomendei", "comprei", "compra", "reserva", "reservei", "separei", "separado",
    "order", "ordered", "bought", "purchase", "purchased", "booked", "reserved", "ships", "shipping",
    "orden", "ordene", "compre", "aparte", "apartado", "envio", "enviamos", "enviado", "sai amanha",
)

# A previous message with one of these intents has something a follow-up can ask again.
FOLLOWED_INTENTS = ("pricing", "purchase", "order_status", "support", "payment", "scheduling")

# A customer's message that says the payment was made ("paguei", "segue o comprovante", "pix enviado"): the
# evidence that turns a purchase into a sale (crm/customer_status.py). Not any payment question: "posso pagar
# com cartao?" is not evidence.
PAYMENT_DONE = (
    # pt
    "paguei", "ta pago", "esta pago", "ja paguei", "ja pago", "comprovante", "pix enviado", "pix feito",
    "fiz o pix", "mandei o pix",
    "enviei o pix", "pix realizado", "transferi", "transferencia feita", "pagamento feito", "pagamento realizado",
    "pagamento efetuado", "efetuei o pagamento", "realizei o pagamento", "fiz o pagamento", "boleto pago",
    "paguei o boleto", "deposito feito", "depositei",
    # en
    "paid", "i paid", "i've paid", "just paid", "payment sent", "sent the payment", "payment done", "payment made",
    "made the payment", "receipt", "transfer done", "transferred", "i transferred", "money sent",
    # es
    "pague", "ya pague", "comprobante", "pago hecho", "pago realizado", "pago enviado", "hice el pago",
    "realice el pago", "transferi", "ya transferi", "deposite", "ya deposite", "transferencia hecha",
)

# A payment cue next to one of these is not evidence ("ainda nao paguei", "I haven't paid", "no he pagado").
PAYMENT_NEGATIONS = ("nao", "not", "no", "never", "nunca", "ainda", "yet", "todavia", "didn't", "didnt",
                     "haven't", "havent", "hasn't")
