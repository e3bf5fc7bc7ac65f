"""HTTP only: the Bottle app factory, routes by resource, plugins, WebSocket hub, OpenAPI, server runner."""
