-- Lua the topology can use by name (lua.scripts: [{ file: "example.lua" }]): a service a route can
-- answer with (route { service: "hello" }) and an action a rule can run (rule { lua: "tag_request" }).
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
