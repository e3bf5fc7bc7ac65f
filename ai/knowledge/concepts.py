"""The words of a small shop's questions, folded to one term per concept across pt, en and es.

A customer asks "quanto é o envío?" or "how much is shipping?" and the seller wrote "O frete ...": the words
differ, the concept is the same. Every word listed here is replaced by its concept ("@ship") before scoring,
so a question matches an entry written in another language or with another word for the same thing. The
lists cover what the shops' knowledge bases are about (delivery, prices, payment, hours, address, exchanges,
sizes, invoices ...), not any one shop's catalogue: an entry's own words still match literally.

STOPWORDS are the function words and the question scaffolding of the three languages ("qual", "voces",
"tem", "do you"): they say nothing about which fact is asked for, so they are not scored at all.
"""

from __future__ import annotations

CONCEPTS: dict[str, tuple[str, ...]] = {
    "@ship": ("frete", "fretes", "envio", "envios", "enviar", "envia", "enviam", "envian", "enviamos", "envie",
              "shipping", "ship", "ships", "shipped", "postage", "entrega", "entregar", "entregam", "entregas",
              "entregan", "entregamos", "entregues", "entregue", "delivery", "deliver", "delivers", "deliveries",
              "correio", "correios", "sedex", "pac", "motoboy", "transportadora", "courier", "dhl", "despacho",
              "despachar", "despacham"),
    "@post": ("postar", "postam", "postamos", "postagem", "posta", "postado", "dispatch", "dispatched"),
    "@arrive": ("chega", "chegar", "chegam", "chegue", "llega", "llegar", "llegan", "arrive", "arrives",
                "demora", "demorar", "demoram", "tarda", "tardan", "tardar", "leva", "levar", "takes"),
    "@price": ("preco", "precos", "valor", "valores", "custa", "custam", "custo", "cuesta", "cuestan", "costo",
               "precio", "precios", "price", "prices", "cost", "costs"),
    "@free": ("gratis", "gratuito", "gratuita", "free", "graca"),
    "@pay": ("pagamento", "pagamentos", "pagar", "pago", "pagos", "pagam", "pague", "pay", "payment", "payments",
             "paying", "pagarlo"),
    "@card": ("cartao", "cartoes", "tarjeta", "tarjetas", "card", "cards", "credito", "credit", "debito", "debit",
              "visa", "mastercard", "amex"),
    "@installment": ("parcela", "parcelas", "parcelar", "parcelado", "parcelamento", "cuotas", "cuota",
                     "installments", "installment", "juros", "interest"),
    "@hours": ("horario", "horarios", "hours", "abre", "abrem", "abertos", "aberta", "abierto", "abiertos",
               "abren", "open", "opens", "opening", "fecham", "fechados", "fechada", "cierra", "cierran", "close",
               "closes", "closing", "funciona", "funcionam", "funcionamento", "atende", "atendem", "atendimento",
               "atencion", "atienden"),
    "@weekend": ("sabado", "sabados", "saturday", "saturdays", "domingo", "domingos", "sunday", "sundays",
                 "feriado", "feriados", "holiday", "holidays", "weekend"),
    "@store": ("loja", "lojas", "tienda", "tiendas", "store", "shop", "showroom", "fisica"),
    "@address": ("endereco", "direccion", "address", "localizacao", "ubicacion", "location", "located",
                 "rua", "calle", "street"),
    "@pickup": ("retirar", "retirada", "retiro", "pickup", "pick", "recoger", "collect", "buscar"),
    "@exchange": ("troca", "trocar", "trocas", "troco", "cambio", "cambios", "cambiar", "exchange", "exchanges",
                  "swap"),
    "@return": ("devolucao", "devolucoes", "devolver", "devolvo", "devolucion", "devoluciones", "return",
                "returns", "reembolso", "refund", "refunds", "estorno", "arrependimento", "reembolsar"),
    "@warranty": ("garantia", "garantias", "warranty", "guarantee", "defeito", "defeitos", "defecto", "defect"),
    "@size": ("tamanho", "tamanhos", "talla", "tallas", "talle", "talles", "size", "sizes", "sizing", "medida",
              "medidas", "numeracao", "veste", "visto"),
    "@color": ("cor", "cores", "color", "colors", "colores", "colour", "colours"),
    "@dress": ("vestido", "vestidos", "dress", "dresses"),
    "@bag": ("bolsa", "bolsas", "bag", "bags", "cartera", "carteras", "purse", "handbag"),
    "@shoe": ("tenis", "sneaker", "sneakers", "zapatilla", "zapatillas", "shoe", "shoes", "calcado"),
    "@wholesale": ("atacado", "revenda", "revender", "revendedor", "revendedora", "mayorista", "mayoreo",
                   "wholesale", "reseller", "resell", "resale"),
    "@invoice": ("nota", "fiscal", "factura", "invoice", "invoices", "receipt"),
    "@gift": ("presente", "presentes", "regalo", "regalos", "gift", "gifts", "embalagem", "embrulho",
              "embrulhar", "wrapping", "wrap", "envolver"),
    "@discount": ("cupom", "cupons", "cupon", "cupones", "coupon", "coupons", "desconto", "descontos",
                  "descuento", "descuentos", "discount", "discounts"),
    "@tracking": ("rastreio", "rastreamento", "rastrear", "tracking", "track", "seguimiento"),
    "@abroad": ("internacional", "internacionais", "international", "exterior", "abroad", "worldwide",
                "extranjero", "outside"),
    "@bh": ("bh", "beaga", "bhz"),
    "@sp": ("sp", "sampa"),
    "@rj": ("rj",),
    "@minimum": ("minimo", "minima", "minimum"),
    "@days": ("dias", "days", "dia", "day"),
}

# Multi-word names read as one word before the concepts apply ("belo horizonte" -> "bh").
PHRASES: dict[str, str] = {
    "belo horizonte": "bh",
    "sao paulo": "sp",
    "rio de janeiro": "rj",
    "de graca": "gratis",
    "nota fiscal": "nota",
    "how much": "cost",
    "how long": "takes",
    "ate que horas": "horario",
    "que horas": "horario",
    "what time": "hours",
    "dinheiro de volta": "reembolso",
    "money back": "refund",
    "devolucion del dinero": "reembolso",
    "size chart": "sizes",
}

def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = _word_set("""
a o e os as um uma uns umas de do da dos das no na nos nas em para por pelo pela com sem que se ou mas
eu voce voces ele ela nos eles elas me te lhe meu minha seu sua nosso nossa isso isto esse essa aquele aqui
ai la ja so tambem muito muita mais menos bem tudo todo toda todos todas nao sim ok qual quais quanto quanta
quantos quantas quando como onde porque por que quem ser esta estou estao sao era foi tem ter tenho temos
tinha vai vou posso pode podem poderia queria quero gostaria saber fazer faz fazem faco faco da dar
oi ola ola opa bom boa dia tarde noite obrigado obrigada valeu por favor hoje agora ainda entao tipo
algum alguma ne la ah eh hm the an and or of to in on at for from with by is are was be do does did you your
we our us i my me it its this that these those can could would will what which who how when where why
there here have has any some much many please hi hello hey thanks thank
el la los las un una unos unas del al y o en con por para que se su sus mi mis tu tus usted ustedes es son
esta estan hay tiene tienen tengo puedo puede pueden quiero queria saber hacer hacen cual cuales cuanto
cuanta cuantos cuantas cuando como donde porque quien si no muy mas hola buenas buenos gracias favor hoy
ahora tambien algo
fica ficaria sai sale pegar get got consigo conseguir
mandar manda mande mando send sends sent ler read falar fala talk speak hablar ver see olhar look
moro mora vivo sobre alguma alguem vcs vc gente cara
vende vendem vender vendo vendemos compra comprar comprei compro sell sells buy bought venden vendes
preciso precisa need want know tell quiero necesito necesita
""")
