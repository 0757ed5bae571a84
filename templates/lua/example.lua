-- Lua the topology can use by name (lua.scripts: [{ file: "example.lua" }]): a service a route can
-- answer with (route { service: "hello" }), an action a rule can run (rule { lua: "tag_request" }),
-- and a fetch and a converter a condition can test.
-- Scripts are code the user owns, like the error pages beside them.

-- Answers 200 with a short text, without a server.
core.register_service("hello", "http", function(applet)
  local body = "hello from lua\n"
  applet:set_status(200)
  applet:add_header("content-type", "text/plain")
  applet:add_header("content-length", tostring(#body))
  applet:start_response()
  applet:send(body)
end)

-- Marks the request it runs on, so that the server can tell.
core.register_action("tag_request", { "http-req" }, function(txn)
  txn.http:req_set_header("X-Lua", "tagged")
end)

-- A fetch a condition can compare (condition { lua: { fetch: "tenant_of_path" } }): the first path
-- segment after "/t/", or nothing (the condition then does not hold).
core.register_fetches("tenant_of_path", function(txn)
  return string.match(txn.sf:path(), "^/t/([^/]+)")
end)

-- A converter a header or query condition can pass its value through ({ header: { name, luaConverter:
-- "first_label", equals } }): a host name's first label, lower-cased.
core.register_converters("first_label", function(value)
  return string.lower(string.match(value, "^[^.:]*"))
end)
