-- miltertest script (tests/e2e/check_signals.py): one message with the
-- macros Postfix sends, SMTP AUTH user included, straight to the milter.
local conn = mt.connect(os.getenv("SOCK"))
if conn == nil then error("connect") end
mt.macro(conn, SMFIC_CONNECT, "j", "mx.example.test")
if mt.conninfo(conn, "client.example.test", "192.0.2.7") ~= nil then error("conninfo") end
-- {i}, the queue id, with the MAIL macros (mt.macro takes no end-of-body set)
mt.macro(conn, SMFIC_MAIL, "{auth_authen}", "mario.bianchi", "i", "MTAUTH0001")
if mt.mailfrom(conn, "mario.bianchi@example.test") ~= nil then error("mailfrom") end
if mt.rcptto(conn, "alice@example.test") ~= nil then error("rcptto") end
mt.header(conn, "From", "mario.bianchi@example.test")
mt.header(conn, "To", "alice@example.test")
mt.header(conn, "Subject", "via miltertest")
mt.header(conn, "Message-ID", "<mt-1@example.test>")
mt.eoh(conn)
mt.bodystring(conn, "Buongiorno,\r\na domani.\r\n")
if mt.eom(conn) ~= nil then error("eom") end
local r = mt.getreply(conn)
if r ~= SMFIR_ACCEPT and r ~= SMFIR_CONTINUE then error("reply " .. tostring(r)) end
if not mt.eom_check(conn, MT_HDRADD, "X-PECGuard-Class") then error("no X-PECGuard-Class added") end
mt.disconnect(conn)
