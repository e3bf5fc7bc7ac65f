-- wrk script for bench/service_capture.py: POSTs distinct, realistic capture bodies and counts status codes.
--
--   wrk -t2 -c50 -d10s -s bench/wrk/capture.lua http://127.0.0.1:PORT -- TOKEN RUN_TAG PATH
--
-- TOKEN     bearer token sent in Authorization ("-" sends none)
-- RUN_TAG   goes into every message_id, so separate runs (warm-up, measurement) never collide
-- PATH      /api/messages/capture (the service) or /echo (the reference server)
--
-- Every request carries a new message_id (run tag + thread id + per-thread counter); customers come from a
-- pool of 20,000 (Brazil, US, Spain, Mexico) with their phone written in varied formats, so the service
-- sees new and returning customers and conversations. done() prints one line: WRK_RESULT {json}.

local threads = {}
local next_id = 0

function setup(thread)
   next_id = next_id + 1
   thread:set("tid", next_id)
   table.insert(threads, thread)
end

local texts = {
   -- Portuguese
   "Oi, boa tarde! Quanto custa o plano mensal?",
   "Olá, vocês entregam em Campinas? Qual o prazo?",
   "Quero comprar dois kits, como faço o pagamento?",
   "Meu pedido ainda não chegou, já faz 10 dias. Podem verificar?",
   "Obrigada pelo atendimento, vocês são ótimos!",
   "O produto veio com defeito, estou muito chateado.",
   "Quero cancelar minha assinatura, por favor.",
   "Aceitam Pix ou só cartão de crédito?",
   "Posso agendar uma visita técnica para sexta-feira de manhã?",
   "Bom dia! Ainda tem o tênis azul no tamanho 40?",
   "Paguei o boleto ontem, podem confirmar o recebimento?",
   "Que demora! Ninguém responde, péssimo atendimento.",
   "Consegue fazer um desconto para pagamento à vista?",
   "Chegou certinho, amei o presente. Muito obrigado!",
   "Oi, tudo bem? Queria saber o horário de funcionamento da loja.",
   "Olá Maria, seu pedido já foi enviado e chega amanhã.",
   "Claro! O plano mensal custa R$ 49,90 e pode ser cancelado a qualquer momento.",
   -- English
   "Hi, how much is the annual subscription?",
   "Where is my order? The tracking hasn't updated since Monday.",
   "I'd like to buy three of the blue ones, do you ship to Texas?",
   "This is the second time the package arrived damaged. Really disappointed.",
   "Thanks a lot, the support team was amazing!",
   "Can I book an appointment for next Tuesday afternoon?",
   "Please cancel my order, I found it cheaper elsewhere.",
   "Do you accept PayPal or only credit cards?",
   "Hello! Is the store open on Sunday?",
   "Hi John, your refund was processed today and should show up in 3 to 5 business days.",
   -- Spanish
   "Hola, ¿cuánto cuesta el envío a Guadalajara?",
   "Buenas tardes, quiero hacer un pedido de cinco cajas.",
   "Mi pedido llegó incompleto, falta un artículo.",
   "¡Muchas gracias! Todo llegó perfecto y muy rápido.",
   "¿Puedo pagar con transferencia bancaria?",
   "Quiero cancelar la suscripción, ya no la uso.",
   "¿Tienen cita disponible para el jueves por la mañana?",
   "Hola, ¿siguen teniendo la chaqueta negra en talla M?",
   "Es la tercera vez que escribo y nadie me contesta. Pésimo servicio.",
   "Hola Ana, tu pedido sale hoy y te llega el viernes.",
}

local names = {
   "Maria Silva", "João Souza", "Ana Oliveira", "Pedro Santos", "Juliana Costa", "Lucas Pereira",
   "Fernanda Lima", "Rafael Almeida", "John Smith", "Emily Johnson", "Michael Brown", "Sarah Davis",
   "Carlos García", "Lucía Martínez", "Javier López", "Sofía Hernández", "Diego Ramírez", "Valentina Torres",
}
local suffixes = { "", "", "", "", " Pedido #%d.", " (ref %d)", " Obrigado!", " Gracias.", " Thanks!" }

local token, run_tag, path
local tid, counter = 0, 0
s200, s201, s2xx, s4xx, s429, s5xx, sother = 0, 0, 0, 0, 0, 0, 0

function init(args)
   token = args[1] or "-"
   run_tag = args[2] or "R"
   path = args[3] or "/api/messages/capture"
   tid = wrk.thread:get("tid") or 0
   math.randomseed(os.time() * 1000 + tid * 7919)
end

local function customer(c)
   -- phone as the extension might send it (varied formats), and the WhatsApp chat id
   local kind = c % 10
   local fmt = math.random(3)
   local a, b = 1000 + (c * 37) % 9000, 1000 + (c * 91 + 17) % 9000
   if kind <= 5 then       -- Brazil, mobile: +55 11 9aaaa-bbbb
      local digits = string.format("55119%04d%04d", a, b)
      if fmt == 1 then return string.format("(11) 9%04d-%04d", a, b), digits
      elseif fmt == 2 then return string.format("+55 11 9%04d %04d", a, b), digits
      else return digits .. "@c.us", digits end
   elseif kind <= 7 then   -- United States: +1 415 7aa-bbbb
      local x = 100 + a % 900
      local digits = string.format("1415%03d%04d", x, b)
      if fmt == 1 then return string.format("+1 (415) %03d-%04d", x, b), digits
      else return "+" .. digits, digits end
   elseif kind == 8 then   -- Spain: +34 6aa bbb bbb
      local digits = string.format("346%04d%04d", a, b)
      return "+" .. digits, digits
   else                    -- Mexico: +52 55 aaaa bbbb
      local digits = string.format("5255%04d%04d", a, b)
      if fmt == 1 then return string.format("+52 55 %04d %04d", a, b), digits
      else return "+" .. digits, digits end
   end
end

function request()
   counter = counter + 1
   local c = math.random(20000)
   local phone, digits = customer(c)
   local direction = (math.random(100) <= 65) and "in" or "out"
   local text = texts[math.random(#texts)] .. string.format(suffixes[math.random(#suffixes)], math.random(99999))
   local name = names[c % #names + 1]
   local ts = os.time() * 1000 + counter % 1000
   local body = string.format(
      '{"message_id":"3EB0%s%02d%08X","chat_id":"%s@c.us","phone":"%s","name":"%s","content":"%s",' ..
      '"type":"text","direction":"%s","timestamp":%d}',
      run_tag, tid, counter, digits, phone, name, text, direction, ts)
   local headers = { ["Content-Type"] = "application/json" }
   if token ~= "-" then headers["Authorization"] = "Bearer " .. token end
   return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
   if status == 201 then s201 = s201 + 1
   elseif status == 200 then s200 = s200 + 1
   elseif status >= 200 and status < 300 then s2xx = s2xx + 1
   elseif status == 429 then s429 = s429 + 1
   elseif status >= 400 and status < 500 then s4xx = s4xx + 1
   elseif status >= 500 then s5xx = s5xx + 1
   else sother = sother + 1 end
end

function done(summary, latency, requests)
   local t = { s200 = 0, s201 = 0, s2xx = 0, s4xx = 0, s429 = 0, s5xx = 0, sother = 0 }
   for _, thread in ipairs(threads) do
      for k, _ in pairs(t) do t[k] = t[k] + (thread:get(k) or 0) end
   end
   local e = summary.errors
   local non2xx = t.s4xx + t.s429 + t.s5xx + t.sother
   io.write(string.format(
      'WRK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"status":{"200":%d,"201":%d,"2xx_other":%d,"429":%d,"4xx_other":%d,"5xx":%d,"other":%d},"non2xx":%d,' ..
      '"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      t.s200, t.s201, t.s2xx, t.s429, t.s4xx, t.s5xx, t.sother, non2xx,
      latency.mean, latency.max, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9)))
end
