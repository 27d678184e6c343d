"""JSON routers, one module per area. Routes parse, authorize, call one service and return a schema."""
