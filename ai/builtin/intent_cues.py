"""Intent cue tables (pt / en / es): the data ai/builtin/intents.py scores with, kept apart from its logic.

- WORD_CUES: intent -> {weight: "space separated tokens"}; a dict lookup per token, exact ("pix") or by prefix
  ("cancel*" covers cancelar, cancelamento, cancelled, cancelen).
- PHRASE_CUES: (intent, weight, regex over the normalised text) for what a single word cannot say
  ("where is my order", "cancelar a consulta" = scheduling, not cancellation); GENERAL_CUES, the indirect
  phrasings, are part of it.

Weights are on a rough "evidence" scale: 3 = decisive on its own, 2 = strong, 1 = supporting. A phrase cue may
carry a negative weight to veto a word cue that it explains away.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------
# Word cues: intent -> {weight: "space separated tokens; a trailing * makes it a prefix"}
# Tokens are in normalised form: lower-case, no accents, chat spelling expanded.
# ---------------------------------------------------------------------------------------------
WORD_CUES: dict[str, dict[float, str]] = {
    "greeting": {
        1.2: "oi oie oii oiee ola olaa hello hi hii hey heyy hiya heya yo hola holaa holi buenas buenass opa "
        "eae"
        " eai eaee salve alo howdy greetings hallo saludos",
    },
    "pricing": {
        3.0: "quanto quantos cuanto cuanta cuantos preco* precio* price* pricing cost costs costo* custa "
        "custam"
        " custo custos cuesta cuestan orcamento* orcar cotizacion* cotizar cotacao quote quotes frete fretes"
        " desconto* descuento* discount* cupom cupons cupon* coupon* promo promocao promocion* tarifa*"
        " fee fees carissimo carisim* expensive overpriced pricey precinho mensalidade mensualidad"
        " taxa taxas presupuesto* orcamentos tarifario",
        2.0: "valor valores diaria barato* cheap* caro charge charges rate rates cobran cobram comissao"
        " gratis free",
    },
    "purchase": {
        2.5: "comprar compro comprando encomendar buy buying purchase* adquirir assinar subscribe suscribir*"
        " suscribo preorder* preordenar apartar aparta* apartame ordenar checkout carrinho carrito cart"
        " encargar renovar renov* renew* renuev* upgrade* apunt* inscrev* inscrib* matricular fechado",
        1.5: "reservar reserve separa separar separe guardas guarda pedir estoque stock llevar* llevo levar"
        " assinatura subscription suscripcion encomenda",
        1.0: "disponivel disponible available reserva compra ticket tickets billete billetes passagem passagens"
        " pasaje pasajes",
        0.5: "quero quiero queria want order",
    },
    "order_status": {
        3.0: "rastreio rastreamento rastrear rastreo rastrea* rastrei* tracking track* cade eta seguimiento",
        2.5: "transportadora paqueteria despachad* despacharam enviaram shipped arrive arrives previsao"
        " prazo",
        2.0: "atrasado atrasada atraso atrasou delayed delay retraso retrasado retrasada correios courier"
        " entregador repartidor motoboy paquete pacote package parcel postado",
        1.5: "entregue entregaram delivered enviado enviada chega llega arrived status carrier entrega "
        "delivery"
        " demorando",
        1.2: "late demora chegou llego chegar llegar envio ship",
    },
    "support": {
        2.5: "senha password contrasena login logar signin estacionamento estacionamiento parking bug"
        " travando reset resetar redefinir desbloquear unlock waterproof voltagem voltaje voltage bivolt"
        " compativel compatible compatibilidade garantia warranty passcode receita prescription receta"
        " barulho barulhos noise noises ruido ruidos",
        2.0: "app aplicativo aplicacion configurar configuro configura* instalar install* instal* wifi "
        "bluetooth"
        " conectar conecto connect* manual atendente humano human suporte soporte endereco direccion"
        " localiza* ubica* located location sucursal filial bloquead* blocked locked cadastro registr*"
        " verificacao verification pin otp lavar lavadora wash washing dryer secadora medida*",
        1.5: "perto near nearby cerca proximo proxima metro subway erro error documentos documento documents"
        " docs papeles papeis passaporte passport pasaporte exportar export importar import integrar"
        " integration integracion api usuarios users serve sirve",
        1.2: "acesso acessar acceder account conta cuenta site website support tamanho talla size address"
        " duvida duda question pergunta informacao informacion ajuda ayuda help usar contato contact"
        " contactar agent agente funciona funcionar trava",
        0.8: "loja tienda store shop unidade branch tecnico tecnica battery bateria email",
    },
    "complaint": {
        3.0: "pessimo* pesimo* horrivel horriveis horrible* terrible terrivel awful worst lixo porcaria "
        "basura"
        " porqueria vergonha verguenza vergonzoso inaceptable unacceptable inaceitavel inadmissivel"
        " inadmisible descaso desrespeito disrespect* rude grosseir* grosera grosero groseros maleducad*"
        " decepc* decepcion* disappoint* insatisf* dissatisf* furious furioso furiosa indignad* revoltad*"
        " scam estafa fraude fraud reclam* complain* complaint* queja* quejar* procon profeco palhacada"
        " quebrad* quebrou broken damaged danificad* estragad* estragou defeito* defeit* defect* defectuos*"
        " mofad* podre spoiled rotten lamentavel lamentable descaso enrolacao enrolando furo furad* agujero*"
        " hole holes manchad* stained patchy machuc* lastim* injured trash garbage stain stains",
        2.5: "absurd* ridicul* enganad* roto rotos rotas danad* denuncia* frustrad* frustrat*",
        2.0: "riscad* scratched rayad* amassad* crushed aplastad* rasgad* desbot* faded grosso grossa ruim"
        " crash* travou congel* freezes"
        " unhappy harto harta golpe waste wasted fatal bbb",
        1.5: "rota torn sujo sujos dirty sucio sucia piada joke chiste malo molesto annoying chato chata",
        1.0: "mal mala errado errada wrong equivocado equivocada 🙄 😒 😡 🤬 😤 👎 🤡",
    },
    "cancellation": {
        3.0: "cancel* estorn* reembols* refund* devolu* devolv* devuel* chargeback rescindir rescisao",
        2.5: "desist* arrepent* returning terminate encerr*",
        2.0: "desativar deactivate unsubscribe",
        1.5: "return returns delete excluir eliminar",
    },
    "payment": {
        3.0: "pix boleto* cartao cartoes tarjeta* paypal venmo zelle applepay gpay mercadopago picpay"
        " installment* cuota* parcela parcelas parcelar parcelado parcelamento parcelo factura* invoice*"
        " comprovante comprobante pagamento pagamentos payment* billing fatura amex mastercard bizum oxxo"
        " spei nequi yape plin daviplata",
        2.5: "transferencia* efectivo recibo receipt paguei pague pagado pagamos declin* recusad* rechaz*"
        " deposito* deposit bitcoin crypto cripto cheque",
        2.0: "pagar pago pay paid paying pagando pagos cash transfer juros intereses ted bill nubank",
        1.5: "card cards credito credit debito debit captura screenshot aprovad* aprobad* cobranca qr",
        1.0: "dinheiro chave interest accept aceitam aceptan aceita acepta",
    },
    "scheduling": {
        3.0: "agendar agend* remarc* reagend* desmarc* reprogram* reschedul* appointment* appt cita citas"
        " encaixe encaixar funcionamento abrem abren cierran fecham opens closes",
        2.5: "schedul* turno turnos booking slot slots availability",
        2.0: "horario horarios book abre abierto abiertos aberto abertos disponibilidade disponibilidad"
        " closing",
        1.5: "maintenance manutencao mantenimiento"
        " open feriado holiday holidays reservation session sessao sesion consulta visita visit vaga "
        "cierra"
        " fecha",
        1.0: "hora domingo sabado sunday saturday segunda terca quarta quinta sexta monday tuesday wednesday"
        " thursday friday lunes martes miercoles jueves viernes mon tue tues wed thu thurs fri sat sun"
        " anota anotame anote",
    },
    "praise": {
        3.0: "obrigad* agradec* thank* thanks cheers gracias valeu brigad* parabens congrat* felicit* "
        "felicidades"
        " kudos amei adorei recomendo recommend* recomiendo arrasa* arrasam apprecia* gratidao fascin*",
        2.5: "encant* loved nailed satisfeit* satisfied impecable impecavel sensacional perfeit* perfect*"
        " excelente excellent maravilh* maravillos* fantastic* atencios* helpful prestativ* servicial",
        2.0: "love otimo otima awesome amazing incrivel increible genial recomendad* rocks contente contento"
        " capricho amable gentil top amo amamos legend legends genios cracks",
        1.5: "great happy feliz lindo linda beautiful rock sweet show massa 👏 🙌 😍 🥰 ❤ 💖 💕",
    },
    "other": {
        3.0: "curriculo* hiring contratando contratan emprego empleo vacante* fornecedor* proveedor* "
        "supplier*"
        " parceria partnership* influencer* influenciador* newsletter spam spamming broadcast",
        2.5: "distribuidor* collab* colaboracion* engano trabajo resume",
        1.5: "job jobs",
        1.0: "representante catalog* catalogo review feedback",
    },
}

# ---------------------------------------------------------------------------------------------
# Phrase cues: (intent, weight, regex over the normalised text " tok tok ... ").
# Each regex is tried only at tokens whose first 3 letters can start it (see first_word_keys).
# ---------------------------------------------------------------------------------------------
_ORDER_NOUN = (
    r"(?:pedido|encomenda|compra|pacote|package|order|orden|parcel|paquete|entrega|delivery|stuff|"
    r"items?|produto|producto|envio)"
)
_MY = r"(?:meu|minha|mi|my|o|a|el|la|the|nosso|nuestro)"

PHRASE_CUES: list[tuple[str, float, str]] = [
    # small talk that opens a chat
    (
        "greeting",
        1.5,
        r"(?:how(?:'s| is| are) (?:everything|things|it going|your day|you doing)|what's up|whats up|"
        r"how have you been|como (?:vai|vao|andas|anda|va|van) (?:voce|voces|tu|usted|las cosas|tudo)?)",
    ),
    # ordering/reserving things (verb "order", tables)
    (
        "purchase",
        2.5,
        r"(?:order (?:more|me|some|a|an|two|three|\d+)|reorder|acquire|aquire|"
        r"shopping list|lista de compras)\b",
    ),
    (
        "scheduling",
        3.0,
        r"(?:(?:reserve|book|get|reservar|reserva|quero|quiero) (?:\w+ )?(?:a |uma |una )?"
        r"(?:table|mesa)|table for \d+|mesa (?:para|pra) \d+|set (?:up )?a time|oil change|"
        r"revisao do carro|cambio de aceite)",
    ),
    (
        "purchase",
        -2.5,
        r"(?:(?:reserve|book|get|reservar|reserva|quero|quiero) (?:\w+ )?(?:a |uma |una )?"
        r"(?:table|mesa)|table for \d+|mesa (?:para|pra) \d+|set (?:up )?a time|oil change|"
        r"revisao do carro|cambio de aceite)",
    ),
    # greeting
    (
        "greeting",
        1.2,
        r"(?:bom dia|boa tarde|boa noite|buen dia|buenos dias|buenas tardes|buenas noches|"
        r"good (?:morning|afternoon|evening)|que onda|que tal|e ai)\b",
    ),
    (
        "greeting",
        1.0,
        r"(?:tudo (?:bem|bom|certo|joia|tranquilo)|como (?:vai|estas|estan|esta)|"
        r"how are (?:you|u)|alguem (?:ai|atendendo|por ai)|anyone (?:there|around|here)|"
        r"alguien (?:atiende|ahi|ahi)|hay alguien|tem alguem)\b",
    ),
    (
        "greeting",
        0.8,
        r"(?:tengo una (?:consulta|pregunta|duda)|tenho uma (?:duvida|pergunta)|"
        r"i have a question|(?:gostaria|queria) de uma informacao|una consulta)\b",
    ),
    ("scheduling", -1.5, r"(?:tengo una consulta|una consulta)\b"),
    ("greeting", 1.0, r"morning\b"),
    # pricing
    (
        "pricing",
        3.0,
        r"(?:how much|what(?:'s| is| does) (?:the )?(?:price|cost|rate)|qual (?:o )?(?:valor|"
        r"preco)|que precio|(?:tabela|lista) de prec|price list)",
    ),
    (
        "pricing",
        -3.0,
        r"(?:quant[oa]s? (?:tempo|vezes|dias|horas)|cuant[oa]s? (?:tiempo|cuotas|dias|horas)|"
        r"how much (?:time|longer))\b",
    ),
    ("pricing", 2.0, r"(?:cuanto (?:sale|es|me sale)|quanto (?:sai|fica|e|esta|seria))\b"),
    (
        "pricing",
        2.5,
        r"(?:muito caro|mto caro|tao caro|q caro|que caro|muy caro|too expensive|so expensive|"
        r"way too)\b",
    ),
    # purchase
    (
        "purchase",
        3.0,
        r"(?:quero|queria|gostaria de|vou|quiero|quisiera|queremos|want to|would like to|"
        r"i'd like to|i'll|can i|could i|posso|puedo|como|how (?:do|can) i|onde|donde|where (?:can|do) i|"
        r"ready to|pronto para|listo para) (?:\w+ ){0,2}(?:compr\w*|buy|purchase|order|pedir|encomendar|"
        r"assinar|subscribe|suscribirme|adquirir|place (?:an |the )?order|preorder|preordenar|levar|"
        r"llevarme|garantir|fechar|fazer (?:um |o )?pedido|hacer (?:un |el )?pedido)\b",
    ),
    (
        "purchase",
        2.5,
        r"(?:quero|quiero|want|vou querer|me ve|me da|manda|me manda) (?:mais |mas |more |"
        r"another |outro |otro |one more |\d+ )",
    ),
    (
        "purchase",
        3.0,
        r"(?:i'll take|me llevo|me quedo con|vou levar|vou querer|vou pegar|me separa|"
        r"separa (?:um|uma|pra|para)|put (?:one|it) aside|hold (?:one|it)|me (?:lo|la) (?:apartas|guardas|"
        r"separas)|place (?:an |the )?order|fazer (?:um |o )?pedido|hacer (?:un |el )?pedido|fechar (?:a |"
        r"o )?(?:compra|pedido))",
    ),
    (
        "purchase",
        2.0,
        r"(?:tem|tiene|tienen|hay|have|do you have|got) .{0,20}(?:estoque|stock|disponivel|"
        r"disponible|available)",
    ),
    ("purchase", 2.0, r"(?:link|site) (?:pra|para|to) (?:comprar|buy|compra|order)"),
    (
        "purchase",
        2.0,
        r"(?:want|quero|quiero|queria|would like|i'd like|i'll have|i'll get|give me|me da|"
        r"me ve|me interesa|me interessa|interested in) (?:o|a|os|as|el|la|los|las|the|this|that|esse|"
        r"essa|este|esta|um|uma|un|una|one|\d+)\b",
    ),
    ("purchase", 2.0, r"(?:gift card|tarjeta de regalo|cartao presente|vale presente|gift voucher)"),
    ("payment", -3.0, r"(?:gift card|tarjeta de regalo|cartao presente|vale presente|gift voucher)"),
    # order status
    (
        "order_status",
        3.0,
        r"(?:cade|onde (?:esta|anda|fica|ta)|where(?:'s| is| are)|donde (?:esta|anda|"
        r"quedo)|que (?:paso|houve|aconteceu) con?) (?:\w+ )?" + _MY + r"? ?" + _ORDER_NOUN,
    ),
    ("order_status", 1.5, r"(?:meu|minha|mi|my|o|el|the) " + _ORDER_NOUN + r"\b"),
    (
        "order_status",
        2.0,
        r"(?:ainda|todavia|aun|still|sigue|segue) (?:nao|no|sin|sem|not|hasn't|haven't|"
        r"nothing|nada|waiting)\b",
    ),
    (
        "order_status",
        2.5,
        r"(?:nao|no|not|never|nunca|hasn't|haven't|didn't) (?:\w+ ){0,2}(?:chegou|chego|"
        r"recebi|llega|llego|llegado|arrived|come|received|delivered|entregue|entregado|entregaram)\b",
    ),
    (
        "order_status",
        3.0,
        r"(?:quando|cuando|when|ate quando|ate que dia|que dia|what day|para cuando|"
        r"em quantos dias|en cuantos dias) .{0,25}(?:cheg|lleg|arriv|entreg|deliver|get here|ship|envi|"
        r"sai\b|salio|sale\b|vem\b|come\b|vai chegar)",
    ),
    (
        "order_status",
        3.0,
        r"(?:order status|status (?:do|da|of|del) (?:meu |minha |my |mi )?(?:pedido|order|"
        r"encomenda|compra)|estado (?:de|del) (?:mi )?pedido|status do pedido)",
    ),
    (
        "order_status",
        2.5,
        r"(?:ja|ya|already|has|have|did|foi) .{0,15}(?:enviad|enviaram|despach|postad|"
        r"shipped|sent out|go out|salio|saiu|envi|sali|went out)",
    ),
    (
        "order_status",
        3.0,
        r"(?:saiu (?:para|pra) entrega|out for delivery|em transito|in transit|en camino|"
        r"a caminho|era (?:para|pra) (?:chegar|ter chegado)|was supposed to (?:arrive|come|be delivered)|"
        r"tenia que llegar)",
    ),
    (
        "order_status",
        2.5,
        r"(?:says|consta|diz|dice|aparece|shows) .{0,12}(?:delivered|entregue|entregado|"
        r"enviado|shipped)",
    ),
    (
        "order_status",
        2.0,
        r"(?:ja faz|faz|ha|hace|already|been|pasaron|van|ja sao) (?:mais de )?\d+ (?:dias|"
        r"days|semanas|weeks)",
    ),
    ("order_status", 2.0, r"(?:nada|nothing) (?:do|da|de|del|of) (?:meu|minha|mi|my)"),
    (
        "order_status",
        3.0,
        r"(?:news|update|updates|novidade|novidades|noticias|noticia|status|info|"
        r"informacao|informacion|posicao) (?:on|about|of|for|do|da|sobre|de|del|con) (?:\w+ )?(?:order|"
        r"pedido|package|encomenda|compra|paquete|entrega|delivery|parcel|envio)",
    ),
    ("order_status", 1.5, r"(?:pedido|order|orden|encomenda|compra) (?:n |no |numero |number |# ?)?\d{3,}"),
    # support
    (
        "support",
        2.5,
        r"(?:como (?:eu )?(?:faco|uso|usa|funciona|configur\w*|ligo|instalo|troco|mudo|altero|"
        r"acesso|entro|recupero|reseto|redefino|conecto|cadastro|registro|hago|cambio|lo conecto|accedo|"
        r"ativo|activo)|how (?:do|can|to|does|should) (?:i |you |we )?(?:use|set|change|reset|connect|"
        r"install|update|turn|log|sign|recover|register|contact|reach|fix|get in touch|activate|pair|talk|"
        r"speak|unlock|access|edit))",
    ),
    (
        "support",
        2.5,
        r"(?:nao|no) (?:\w+ )?(?:consigo|consegui|conseguindo|puedo|pude|"
        r"logro) (?:\w+ )?(?:entrar|acessar|acceder|logar|login|iniciar|abrir|instalar|conectar|cadastr|"
        r"registr|ingresar)",
    ),
    (
        "support",
        2.5,
        r"(?:can't|cannot|can not|unable to|couldn't|won't let me) (?:\w+ )?(?:log|sign|access|"
        r"login|get into|open|connect|reset|register)",
    ),
    (
        "support",
        3.0,
        r"(?:falar|hablar|talk|speak|chat) (?:com|con|to|with) (?:um |una |a |an |uma |o |el |"
        r"the )?(?:atendente|humano|human|persona|pessoa|agent|agente|representante|representative|"
        r"real person|gerente|manager|supervisor|alguem|alguien|someone|somebody|customer service|suporte|"
        r"soporte)",
    ),
    (
        "support",
        3.0,
        r"(?:loja fisica|tienda fisica|physical store|(?:onde|where|donde) (?:\w+ )?(?:fica|is|"
        r"queda|esta|are|ficam) .{0,12}(?:loja|tienda|store|shop|local|sucursal|located|voces))",
    ),
    (
        "support",
        2.0,
        r"(?:serve|sirve|fits?|works?|funciona|compatible|compativel) (?:no|na|em|para|pra|en|"
        r"con|with|on|in|for|com) ",
    ),
    (
        "support",
        2.5,
        r"(?:entregam|entregan|fazem entrega|hacen (?:envios|entregas)|envian|do you deliver|"
        r"do you ship|deliver to|ship to|envios a) ",
    ),
    (
        "support",
        3.0,
        r"(?:esqueci|olvide|forgot|lost|perdi) (?:\w+ )?(?:senha|password|contrasena|login|"
        r"usuario|username|pin|acesso)",
    ),
    (
        "support",
        2.5,
        r"(?:a prova d|resistente al agua|water ?proof|(?:vem|viene|come|comes) (?:com|con|"
        r"with)|customer service|atendimento ao cliente|servicio al cliente|atencion al cliente)",
    ),
    (
        "support",
        3.0,
        r"(?:app|aplicativo|site|pagina|aplicacion|it|programa|sistema|link) (?:\w+ )?(?:nao|no|"
        r"won't|doesn't|didn't) (?:\w+ )?(?:abre|open|abren|carrega|load|funciona|works?)",
    ),
    (
        "scheduling",
        -3.0,
        r"(?:app|aplicativo|site|pagina|aplicacion|programa|sistema|link) (?:\w+ )?(?:nao|"
        r"no|won't|doesn't|didn't) (?:\w+ )?(?:abre|open|abren)",
    ),
    # complaint
    (
        "complaint",
        3.0,
        r"(?:nao|no|doesn't|does not|don't|isn't|is not|won't|stopped|parou de|dejo de|"
        r"deixou de|para de) (?:\w+ )?(?:funciona|working|work|funcionar|funcione|liga\b|ligar|enciende|"
        r"prende|carrega|carga|charging|turn on)",
    ),
    (
        "support",
        -2.0,
        r"(?:nao|no|doesn't|does not|don't|isn't|is not|won't|stopped|parou de|dejo de|"
        r"deixou de) (?:\w+ )?(?:funciona|working|work|funcionar)",
    ),
    (
        "complaint",
        2.5,
        r"(?:veio|vieram|chegou|chegaram|mandaram|enviaram|entregaram|recebi|llego|llegaron|"
        r"mandaron|enviaron|came|arrived|sent|got|received|delivered) (?:\w+ ){0,4}(?:errad|equivocad|"
        r"wrong|incorrect|incomplet|faltando|missing|faltan|faltaron|faltou|falto|diferente|different|"
        r"trocad|cambiad|vazi|vacio|empty|aberto|abierto|violad|usad|used|fri[ao]\b|cold\b)",
    ),
    (
        "complaint",
        3.0,
        r"(?:pedi|ordered|pedimos|encomendei) \w+ (?:e |y |and |but )?(?:veio|got|came|"
        r"me llego|llego|recebi|received|chegou|mandaram)",
    ),
    (
        "complaint",
        3.0,
        r"(?:ninguem|nobody|no one|nadie) (?:\w+ )?(?:responde|atende|resolve|answers|"
        r"responds|replies|helps|fixes|cares|contesta|resuelve|ayuda|ajuda|retorna|picks|me)",
    ),
    (
        "complaint",
        2.5,
        r"(?:sem|sin|no|without) (?:nenhuma |ninguna |any )?(?:resposta|retorno|respuesta|"
        r"solucion|solucao|answer|reply|response)\b",
    ),
    (
        "complaint",
        3.0,
        r"(?:nunca mais|never again|nunca mas|never buying|never (?:ordering|shopping|order)|"
        r"not buying again|never buy)",
    ),
    (
        "complaint",
        3.0,
        r"(?:cobra\w*|charged?|cobro|billed) (?:\w+ ){0,2}(?:duas vezes|2 vezes|dos veces|"
        r"twice|double|doble|em dobro|a mais|de mas|indevid|extra)",
    ),
    (
        "complaint",
        2.5,
        r"(?:terceira|tercera|third|quarta|segunda|second|\d+a?) (?:vez|vezes|veces|time|"
        r"times) .{0,25}(?:reclam|complain|quej|lig|llam|call|ped|ask|mand|escrev|escrib|writ)",
    ),
    (
        "complaint",
        3.0,
        r"(?:mal (?:atendid\w*|educad\w*|servicio|atencion|atendimento)|fui mal|"
        r"me (?:trataram|atendieron|trataron|atenderam) (?:mal|fatal)|bad (?:service|experience|quality|"
        r"customer)|poor (?:service|quality)|mala (?:atencion|experiencia|calidad)|(?:atendimento|servico|"
        r"service|servicio|atencion|calidad|qualidade|quality) (?:\w+ )?(?:horrivel|pessim\w*|ruim|"
        r"terrible|awful|horrible|mala|malo|fatal|lixo|poor|bad|fraco|fraca))",
    ),
    (
        "complaint",
        3.0,
        r"(?:(?:nao|no|not) vale (?:o |la |the )?(?:pena|preco|precio|price|money|lo que)|"
        r"not worth)",
    ),
    (
        "complaint",
        3.0,
        r"(?:nao apareceu|never (?:came|showed|show)|no (?:vino|aparecio)|nunca vino|"
        r"didn't (?:show|come)|no show)",
    ),
    (
        "complaint",
        2.5,
        r"(?:on hold|esperando (?:ha|faz|hace) .{0,10}(?:hora|dia|semana)|"
        r"waiting (?:for )?(?:hours|days|weeks|an hour)|(?:perdi|wasted|perdi toda) (?:\w+ )?(?:tarde|dia|"
        r"tempo|tiempo|time|afternoon|day|morning))",
    ),
    (
        "complaint",
        2.0,
        r"(?:muito chato|que chato|so annoying|que molesto|que decepcion|q decepcion|"
        r"q decepcao|que decepcao|que raiva|que saco|muy molesto)",
    ),
    # cancellation
    ("cancellation", 3.0, r"(?:money|dinheiro|dinero|plata|valor) (?:de volta|back|devolta|de vuelta)"),
    (
        "cancellation",
        3.0,
        r"(?:(?:dar|darme|dame|de|doy) de baja|(?:close|delete|terminate|deactivate|"
        r"remove) (?:my |the )?(?:account|membership|plan|subscription)|(?:encerrar|excluir|deletar|"
        r"apagar|desativar) (?:a |minha |o meu |meu )?(?:conta|cadastro|plano|assinatura)|(?:cerrar|"
        r"eliminar|borrar) (?:mi |la )?(?:cuenta|suscripcion|plan|membresia))",
    ),
    (
        "cancellation",
        2.5,
        r"(?:nao|no|don't|do not) (?:\w+ )?(?:quero|quiero|want|need|preciso|"
        r"necesito) (?:\w+ )?(?:mais|mas|anymore|more)\b",
    ),
    (
        "cancellation",
        3.0,
        r"(?:changed my mind|mudei de ideia|me arrepenti|cambie de opinion|desisti|"
        r"never mind cancel)",
    ),
    (
        "cancellation",
        2.5,
        r"(?:send|mandar|enviar|devolver|return) (?:it|this|them|isso|esto|de volta|back)\b",
    ),
    (
        "cancellation",
        3.0,
        r"(?:quero|quiero|want to|would like to|i'd like to|gostaria de|need to|"
        r"preciso) (?:\w+ )?(?:devolver|return|reembolso|refund|estorno)",
    ),
    # scheduling (appointment cancellation belongs here, not to cancellation)
    (
        "scheduling",
        4.0,
        r"(?:cancel\w*|desmarc\w*|remarc\w*) (?:\w+ ){0,3}(?:consulta|horario|agendamento|"
        r"cita|turno|appointment|appt|sessao|sesion|session|aula|clase|visita|avaliacao|exame|hora)\b",
    ),
    (
        "cancellation",
        -4.0,
        r"(?:cancel\w*|desmarc\w*) (?:\w+ ){0,3}(?:consulta|horario|agendamento|cita|"
        r"turno|appointment|appt|sessao|sesion|session|aula|clase|visita|avaliacao|exame|hora)\b",
    ),
    (
        "scheduling",
        3.0,
        r"(?:marcar|agendar|reservar|book|make|schedule|pedir|sacar|agendame|agenda|marca|"
        r"agende) (?:\w+ ){0,2}(?:horario|hora|consulta|cita|turno|appointment|sessao|sesion|session|"
        r"visita|visit|avaliacao|exame|corte|aula|clase|table|mesa|reserva|consultation|facial|manicure|"
        r"limpeza)",
    ),
    (
        "scheduling",
        3.0,
        r"(?:(?:que|what|a que|ate que|hasta que|till what|until what) (?:horas?|"
        r"time) .{0,20}(?:abre|abrem|fecha|fecham|abren|cierran|cierra|open|close|funciona|atende|"
        r"atienden|start|opens|closes)|how late|how early|ate que horas|hasta que hora)",
    ),
    (
        "scheduling",
        3.0,
        r"(?:horario|hours) (?:de )?(?:funcionamento|atendimento|atencion|abertura|"
        r"of operation|de trabajo|comercial)|(?:opening|business|store|working) hours",
    ),
    (
        "scheduling",
        3.0,
        r"(?:voces|vcs|voce|ustedes|you|are you|estan|estao|store|tienda|"
        r"loja) (?:\w+ )?(?:abrem|aberto|abertos|abren|abierto|abiertos|open|funcionam|funciona|atendem|"
        r"atienden)\b",
    ),
    (
        "scheduling",
        2.5,
        r"(?:tem|tiene|tienen|hay|have|got|any|do you have) (?:\w+ ){0,2}(?:horario|hora|"
        r"vaga|turno|lugar|cupo|slots?|availability|openings?|disponibilidad|appointment|espaco)",
    ),
    (
        "scheduling",
        3.0,
        r"(?:funciona|funcionam|abre|abrem|abren|open|opens|atende|atendem|atienden|"
        r"trabalham|trabajan) (?:\w+ )?(?:feriado|feriados|domingo|domingos|sabado|sabados|sunday|sundays|"
        r"saturday|saturdays|holiday|holidays|fin de semana|weekend|hoje|hoy|today|amanha|manana|"
        r"tomorrow)\b",
    ),
    (
        "scheduling",
        2.5,
        r"(?:atender|atende|atiende|atienden|see|fit) (?:me )?(?:in )?(?:hoje|amanha|hoy|"
        r"manana|today|tomorrow|depois|despues|after|before|antes|at)\b",
    ),
    (
        "scheduling",
        3.0,
        r"(?:trocar|mudar|cambiar|change|move|pasar|passar|alterar) (?:\w+ )?(?:horario|hora|"
        r"cita|turno|appointment|consulta|\d+ ?(?:am|pm|h)\b)",
    ),
    (
        "purchase",
        -2.0,
        r"(?:reservar|reserve|book) (?:\w+ ){0,2}(?:consulta|cita|turno|appointment|horario|"
        r"visita|mesa|table)",
    ),
    # payment
    (
        "payment",
        3.0,
        r"(?:nota fiscal|cupom fiscal|formas? de pagamento|metodos? de pago|formas de pago|"
        r"payment methods?|pay(?:ing)? (?:with|by|in|via|using|on)|pagar (?:com|con|no|na|en|via|por|a|"
        r"em)|a vista|en efectivo|contra ?entrega|cash on delivery|na entrega|sem juros|sin intereses|"
        r"meses sin|no interest|interest free|chave pix|apple pay|google pay|mercado pago|"
        r"vale (?:refeicao|alimentacao)|split (?:it|the payment|in))",
    ),
    ("complaint", -2.0, r"(?:card|cartao|tarjeta) (?:\w+ ){0,3}(?:declin|recusad|rechaz)"),
    (
        "payment",
        3.0,
        r"(?:pago|pagamento|payment|pix|cartao|tarjeta|card|transferencia|transfer|"
        r"boleto) (?:\w+ ){0,2}(?:nao|no|not|isn't|won't|didn't|doesn't) (?:\w+ )?(?:pasa|passa|passou|"
        r"going|go|went|through|vai|indo|entra|entrou|cae|caiu|aprov\w*|confirm\w*|process\w*)",
    ),
    (
        "praise",
        3.0,
        r"(?:la rompi\w*|la rompe\w*|you rock|vcs arrasam|voces arrasam|mandaram bem|mandou bem|"
        r"se pasaron|se lucieron)",
    ),
    # praise
    (
        "praise",
        2.5,
        r"(?:chegou (?:certinho|rapidinho|antes|perfeito|direitinho|bem|rapido|no prazo)|"
        r"deu (?:tudo )?certo|superou|exceeded|supero|nota (?:10|dez|mil)|10 / 10|(?:5|cinco|"
        r"five) (?:estrelas|stars|estrellas)|muito bem atendid|bem atendid|well done|good job|great job|"
        r"buen trabajo|excelente atencion|mil gracias|todo bien|all good|tudo certo aqui)",
    ),
    (
        "praise",
        2.0,
        r"(?:muito bom|muy bueno|really good|so good|very good|muito boa|muy buena|son lo maximo|"
        r"lo maximo|sao demais|um amor|un amor|so sweet|you guys rock|voces sao|vcs sao)",
    ),
    # other
    (
        "other",
        4.0,
        r"(?:(?:numero|number|chat|contato|contacto) (?:errado|equivocado|wrong)|wrong (?:number|"
        r"chat|person|contact)|(?:mandei|envie|sent|mande) .{0,20}(?:errad|equivocad|wrong)|foi engano|"
        r"me equivoque|por engano|by mistake)",
    ),
    (
        "other",
        4.0,
        r"(?:para|parem|pare|stop|deja|dejen|deje|quit) (?:de )?(?:me )?(?:mandar|enviar|sending|"
        r"spamming|messaging|texting|mandarme|enviarme|spam|ligar|llamar|calling)",
    ),
    (
        "complaint",
        -3.0,
        r"(?:para|parem|pare|stop|deja|dejen|deje|quit) (?:de )?(?:me )?(?:mandar|enviar|"
        r"sending|spamming|messaging|texting|mandarme|enviarme|spam|ligar|llamar|calling)",
    ),
    (
        "other",
        4.0,
        r"(?:tira|tirar|remove|sacar|saca|saquen|sacame|borrar|borren|exclui|"
        r"excluir) .{0,15}(?:lista|list|grupo|group|contatos|contactos|broadcast|difusion|transmissao)",
    ),
    (
        "other",
        4.0,
        r"(?:nao|no|don't|do not) (?:\w+ )?(?:quero|quiero|want) (?:\w+ )?(?:receber|recibir|"
        r"receive|get) ",
    ),
    (
        "cancellation",
        -3.0,
        r"(?:nao|no|don't|do not) (?:\w+ )?(?:quero|quiero|want) (?:\w+ )?(?:receber|"
        r"recibir|receive|get) ",
    ),
    (
        "other",
        4.0,
        r"(?:vagas? (?:de )?(?:emprego|trabalho|estagio)|job (?:openings?|opportunit\w*|"
        r"vacanc\w*)|vacantes? (?:de )?(?:trabajo|empleo)|(?:trabalhar|trabajar|work) (?:com|con|with|for|"
        r"para) (?:voces|ustedes|you))",
    ),
    (
        "scheduling",
        -4.0,
        r"(?:vagas? (?:de )?(?:emprego|trabalho|estagio)|job (?:openings?|opportunit\w*|"
        r"vacanc\w*)|vacantes? (?:de )?(?:trabajo|empleo)|(?:trabalhar|trabajar|work) (?:com|con|with|for|"
        r"para) (?:voces|ustedes|you))",
    ),
    (
        "other",
        2.5,
        r"(?:(?:quem|who|quien) (?:e|is|es|fala|habla)\b|(?:meu|mi|my) (?:primo|prima|amigo|amiga|"
        r"cousin|friend|irmao|hermano) .{0,25}(?:numero|number|contato|passou|gave|paso))",
    ),
    (
        "other",
        2.0,
        r"(?:leave (?:a )?review|deixar (?:uma )?avaliacao|dejar (?:una )?resena|dar (?:um |"
        r"una )?feedback)",
    ),
]

# ---------------------------------------------------------------------------------------------
# Generalisation cues: how customers phrase requests indirectly, answer the seller's question with a
# bare time, report defects and failures, or praise by negating a complaint.
# ---------------------------------------------------------------------------------------------
_DAYS = (
    r"(?:amanha|hoje|tomorrow|today|tonight|manana|hoy|segunda|terca|quarta|quinta|sexta|sabado|domingo|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|lunes|martes|miercoles|jueves|viernes|"
    r"mon|tue|tues|wed|thu|thurs|fri|sat|sun)"
)
_NEGATED_COMPLAINT = (
    r"(?:nao (?:tenho|tem|ha) (?:do que|nada (?:a|pra|para|que)|nenhuma|o que|de que) (?:\w+ )?reclam|"
    r"nada (?:a|pra|para|que|de que) (?:reclamar|quejar)|sem (?:nenhuma )?reclamac|sem queixa|"
    r"(?:can't|cannot|can not|couldn't) complain|no complaints|nothing to complain|zero complaints|"
    r"no (?:tengo|hay) (?:ninguna |nada de |ni una )?queja|ninguna queja|sin (?:ninguna )?queja|"
    r"no me (?:puedo )?quej|nada (?:de )?que (?:reclamar|quejarme))"
)
_EARLY = (
    r"(?:antes do prazo|antes da data|before (?:the )?(?:deadline|due date|estimated)|ahead of (?:time|schedule)|"
    r"antes de tiempo|antes de lo previsto|antes de la fecha|(?:arrived|came|got here|llego|chegou) "
    r"(?:\w+ )?(?:early|antes|cedo|adiantado|rapidinho|certinho|perfect\w*|perfeit\w*))"
)
_DELIVERED_NOT = (
    r"(?:says|said|disse|diz|dizem|dice|dicen|consta|aparece|shows|marca) .{0,25}(?:entreg|deliver).{0,30}"
    r"(?:nao|no|not|nothing|nada|never|nunca|didn't|haven't)\b"
)
_BRING_IN = (
    r"(?:levar|llevar|bring|trazer|traer) (?:\w+ ){0,3}(?:para|pra|pa|a|in|to)\b .{0,30}(?:vacin|vacun|shot|"
    r"consult|banho|bano|tosa|revis|check|exam|groom|manana|amanha|tomorrow|tarde|morning|afternoon)"
)
_NEED_DOCUMENT = (
    r"(?:preciso|precisa|need|needs|necesito|necesita|requires?) (?:de |a |an )?(?:\w+ ){0,2}(?:receita|"
    r"prescription|receta|documento|document|docs|rg|cpf|passaporte|passport|pasaporte|visa|visto)\b"
)
_THANKS_FOR_NOTHING = r"(?:thanks?|thank you|obrigad\w*|gracias|valeu) (?:for|por|pela|pelo) (?:nothing|nada)\b"
_ASK_DURATION = r"(?:quanto|cuanto|how much) (?:tempo |tiempo )?(?:falta|demora|tarda|longer)\b"
GENERAL_CUES: list[tuple[str, float, str]] = [
    # a bare time or day+period answers "what time suits you?": "pode ser as 15h", "3pm works"
    ("scheduling", 2.5, r"(?<![\w])\d{1,2}(?:h\d{0,2}|hs|hrs|am|pm| am| pm| : \d{2}| h)\b"),
    ("scheduling", 2.5, r"(?:a las|a la|pelas|por volta das|las) \d{1,2}\b"),
    ("scheduling", 2.0, r"(?:as|at) \d{1,2}(?! [a-z]{3,})"),
    ("scheduling", 2.0, _DAYS + r" (?:(?:de|a|en|in|por|pela|na|la|the|of) ){0,2}(?:manha|tarde|noite|morning|"
     r"afternoon|evening|night|noche)\b"),
    ("scheduling", 2.5, r"(?:marcar|agendar|book|schedule|agendarme|reservar|remarcar|reagendar) (?:\w+ ){0,2}"
     r"(?:com|with|con)\b"),
    ("scheduling", 2.5, r"(?:me anota|anotame|me marca|marca (?:pra|para) mim|me agenda|agendame|pencil me in)\b"),
    ("scheduling", 2.5, _BRING_IN),
    ("purchase", -1.5, _BRING_IN),
    # buying said indirectly
    (
        "purchase",
        3.0,
        r"(?:fico com (?:ele|ela|eles|elas|esse|essa|o|a|os|as|um|uma)|me (?:lo|la|los|las) quedo|"
        r"(?:i'll|ill|i will) take (?:it|them|one|two|\d)|eu levo|me lo llevo|sign me up|sign up for|"
        r"me inscrev\w*|inscribirme|me apunto|count me in|take my money|add (?:it |one |\d+ )?to (?:my )?"
        r"(?:order|cart))",
    ),
    (
        "purchase",
        1.5,
        r"(?:\d+|uma?|one|two|dos|duas|tres|three) (?:caixas?|cajas?|boxes|box|unidades|units|pacotes|packs?|"
        r"pares|pairs|kg|kilos?|litros?|liters?|garrafas?|bottles?|botellas?|latas?|cans?)\b",
    ),
    (
        "purchase",
        1.0,
        r"(?:pick (?:\w+ )?up|paso a (?:recoger|buscar)|passo (?:ai|aqui|la) (?:\w+ )?(?:pegar|buscar)|"
        r"retiro (?:na|en) (?:loja|tienda))",
    ),
    # prices asked indirectly
    (
        "pricing",
        2.5,
        r"(?:por quanto|saindo por|sai por|a cuanto|run me|set me back|what (?:would|will|does|do) (?:\w+ ){0,6}"
        r"(?:cost|run me|charge))",
    ),
    ("pricing", -3.0, _ASK_DURATION),
    ("order_status", 2.0, _ASK_DURATION),
    # delivery questions about a named thing: "a encomenda chega ate sexta?"
    (
        "order_status",
        2.0,
        r"(?:pedido|encomenda|order|package|paquete|pacote|envio|compra|comida|food|entrega|delivery|parcel|"
        r"produto|producto) (?:\w+ ){0,2}(?:chega|vem|llega|viene|arrive|arrives|gets here|get here|ship|ships)\b",
    ),
    (
        "order_status",
        3.0,
        r"(?:ship|shipped|send|sent|dispatch\w*|mail|mailed) (?:\w+ ){0,3}yet\b",
    ),
    # support asked indirectly
    ("support", 2.5, r"(?:o que|oque|what|que) (?:\w+ )?(?:pode|could|can|might|puede|sera|seria) (?:ser|be)\b"),
    ("support", 3.0, _NEED_DOCUMENT),
    ("purchase", -2.0, _NEED_DOCUMENT),
    (
        "support",
        2.5,
        r"(?:que|what|quais|which|cuales|qual) (?:\w+ )?(?:papeles|documentos|docs|documents|papeis|documento|"
        r"document|requisitos|requirements)\b",
    ),
    (
        "support",
        2.0,
        r"how (?:do|can|should|would|could) (?:i|we|you) (?!pay|buy|order|cancel|book|return|get|check|"
        r"delete|close|track|see|know|find out|schedule|reschedule|remove|terminate)\w+",
    ),
    (
        "support",
        2.0,
        r"como (?:eu |lo |la |le |se |los |las )?(?!vai|vao|va|estas|esta|estan|assim|sempre|siempre|todo|tudo|"
        r"usted|nao|no\b)[a-z]{2,}(?:o|ar|er|ir|a)\b",
    ),
    (
        "support",
        2.0,
        r"(?:is|are|e|es|eh) (?:this|it|the|these|esse|essa|este|esta|o|a|el|la|ele|ela)? ?(?:\w+ ){0,2}(?:ok|bom|"
        r"boa|bueno|buena|good|safe|seguro|segura|apto|apta|suitable|livre|libre|free|original|compatible|"
        r"compativel) (?:for|para|pra|pa|de|with|con|com)\b",
    ),
    (
        "support",
        2.5,
        r"(?:perd\w*|lost|esqueci|olvide|forgot|left) (?:\w+ ){0,4}(?:jacket|casaco|chamarra|chaqueta|oculos|"
        r"glasses|lentes|celular|phone|wallet|carteira|cartera|bolsa|bag|mochila|backpack|chave|keys?|llaves|"
        r"umbrella|paraguas|uniforme|uniform)\b",
    ),
    # complaints said with defects, injuries, failures, repetition
    (
        "complaint",
        3.0,
        r"(?:not what i (?:asked|ordered|paid|wanted)|nao (?:era|e|foi) (?:isso|o|esse|essa) (?:\w+ )?que (?:eu )?"
        r"(?:pedi|comprei|queria|paguei)|no (?:es|era|fue) (?:lo|eso) que (?:\w+ )?(?:pedi|compre|queria|pague))",
    ),
    (
        "complaint",
        3.0,
        r"(?:veio|came|arrived|vino|llego|chegou|chegaram|llegaron) (?:\w+ ){0,3}(?:com|with|con) (?:um |uma |a |an |"
        r"un |una )?(?:furo|buraco|hole|agujero|mancha|stain|rasgo|tear|rip|defeito|defect|defecto|scratch|risco|"
        r"crack|rachadura|grieta|dent|amassado|abolladura)",
    ),
    ("order_status", -2.0, r"(?:veio|came|arrived|vino|llego|chegou|chegaram|llegaron) (?:\w+ ){0,3}(?:com|with|con) "
     r"(?:um |uma |a |an |un |una )?(?:furo|buraco|hole|agujero|mancha|stain|rasgo|tear|rip|defeito|defect|defecto|"
     r"scratch|risco|crack|rachadura|grieta|dent|amassado|abolladura)"),
    ("complaint", 3.0, _DELIVERED_NOT),
    ("order_status", -2.0, _DELIVERED_NOT),
    (
        "complaint",
        3.0,
        r"(?:sem educacao|sin educacion|mal educad\w*|maleducad\w*|impolite|unprofessional|nada profissional|"
        r"poco profesional|falta de educacao|falta de educacion)",
    ),
    (
        "complaint",
        2.5,
        r"(?:never|nunca|nem|barely|hardly|casi no|apenas) (?:\w+ )?(?:works?|working|funciona\w*|liga|starts?|"
        r"arranca|prende|enciende|carrega|carga|loads?|abre|opens?|pega)\b",
    ),
    (
        "complaint",
        2.5,
        r"(?:keeps|kept|vive|sigue|continua|sempre|siempre|always) (?:\w+ )?(?:crash\w*|trava\w*|falha\w*|"
        r"falla\w*|fail\w*|cayendo|caindo|freez\w*|congel\w*|dando erro|dando error|se cuelga|cuelga|"
        r"desconect\w*|disconnect\w*)",
    ),
    ("complaint", 1.5, r"(?:2nd|3rd|4th|5th|2a|3a|4a|5a|3ra|3era|4ta|tercer) (?:vez|vezes|veces|time|times)\b"),
    ("complaint", 1.0, r"(?:toda vez que|every time|everytime|cada vez que)\b"),
    (
        "complaint",
        3.0,
        r"(?:voltou|volto|volvio|came back|came home|returned|saiu|salio) (?:\w+ ){0,4}(?:com|con|with) (?:\w+ ){0,3}"
        r"(?:machuc\w*|lastim\w*|ferid\w*|herid\w*|cut|cuts|cortada|wound|bruise\w*|injur\w*|hurt|sujo|sucio|"
        r"dirty|pulgas|fleas)",
    ),
    ("complaint", 3.0, _THANKS_FOR_NOTHING),
    ("praise", -4.0, _THANKS_FOR_NOTHING),
    (
        "complaint",
        2.5,
        r"(?:mais uma?|outra|otra|another|one more) (?:\w+ )?(?:semana|dia|mes|week|day|month|hora|hour)s? "
        r"(?:\w+ )?(?:esperando|waiting|de espera)",
    ),
    # accounts and subscriptions closed in other words; things no longer needed
    (
        "cancellation",
        3.0,
        r"(?:shut down|shutdown|discontinue|get rid of|terminat\w*|clos\w*|delet\w*|deactivat\w*|remov\w*|"
        r"encerr\w*|exclu\w*|apag\w*|desativ\w*|cerr\w*|elimin\w*|borr\w*) (?:\w+ ){0,3}(?:account|conta|cuenta|"
        r"membership|subscription|assinatura|suscripcion|membresia|cadastro)\b",
    ),
    (
        "cancellation",
        3.0,
        r"(?:not|isn't|is not|no longer|don't|do not|nao|ya no|no) (?:\w+ )?(?:necessary|needed|need|necesit\w*|"
        r"necessari\w*|preciso|precisa) (?:\w+ ){0,3}(?:anymore|any more|mais|mas)\b",
    ),
    # deliveries of things other than "orders" (a card, a document): where is my X / when will I get it
    ("order_status", 2.5, r"where(?:'s| is| are) (?:my|mine) \w+"),
    (
        "order_status",
        2.5,
        r"(?:when|quando|cuando) (?:\w+ ){0,6}(?:receive|receber|recibir|recebo|recibo|expect (?:to|it|my|the))\b",
    ),
    # small talk
    (
        "greeting",
        1.5,
        r"(?:are (?:you|u) (?:okay|ok|doing|alright|well|good)|how goes it|how (?:you|u) (?:are|doing)|"
        r"how(?:'s| is) it going|hows it going|como (?:voce|vc) (?:esta|ta)|como te va|como le va|"
        r"todo bien (?:por|con)|tudo bem (?:com|por))",
    ),
    # restaurant/hotel reservations are bookings; a car "looked at" is a service appointment
    ("scheduling", 3.0, r"(?:reservation|reserva|reservacion) (?:for|para|pra) (?:\w+ |\d+ )?(?:at|as|a las|tonight|"
     r"hoje|hoy|people|pessoas|personas|\w+ at)"),
    ("purchase", -2.0, r"(?:reservation|reserva|reservacion) (?:for|para|pra) (?:\w+ |\d+ )?(?:at|as|a las|"
     r"tonight|hoje|hoy|people|pessoas|personas|\w+ at)"),
    ("scheduling", 1.5, r"(?:look at|check out|dar uma olhada|echar un vistazo|revisar) (?:it|my|the|o|a|meu|mi|el)\b"),
    # an amount of money in the message is about price
    (
        "pricing",
        1.5,
        r"(?:(?<=\$ )|(?<=€ )|(?<=usd ))\d+|\d+ (?:reais|euros|pesos|dolares|dollars|bucks|conto|contos|pila|pilas|"
        r"lucas|pavos|dolars)\b",
    ),
    # praise: a negated complaint, an early arrival, superlatives
    ("praise", 3.5, _NEGATED_COMPLAINT),
    ("complaint", -6.0, _NEGATED_COMPLAINT),
    ("praise", 2.5, _EARLY),
    ("order_status", -2.5, _EARLY),
    (
        "praise",
        2.0,
        r"(?:hands down|(?:are|is|sao|e|es|son|eres|was|foi|fue) (?:the|o|a|os|as|el|la|los|las) "
        r"(?:best|melhor|melhores|mejor|mejores)|best \w+ (?:in|ever|around)|"
        r"(?:melhor|mejor) \w+ (?:da|de|do|del) (?:cidade|ciudad|regiao|"
        r"zona|bairro|barrio|mundo)|love (?:you|u) guys|los amo|las amo|amo voces|amo vcs|amamos|"
        r"(?:so|super|very|really|muy|tan|muito|mto) (?:kind|amable|amables|gentil|gentis))\b",
    ),
    # not a customer: how did you get my number / I never signed up
    (
        "other",
        3.0,
        r"(?:(?:how|como) (?:\w+ ){0,2}(?:get|got|conseguiram|conseguiu|consiguieron|consiguio|obtuvieron|pegaram) "
        r"(?:o |el )?(?:my|meu|mi) (?:number|numero|contato|contacto)|(?:vendem|venden|selling|sell) (?:\w+ )?"
        r"(?:dados|datos|data)|nunca (?:pedi|autorizei|me inscrevi|me cadastrei|me suscribi|me inscribi|me registre)|"
        r"never (?:asked|signed up|subscribed|opted))",
    ),
]
PHRASE_CUES.extend(GENERAL_CUES)
