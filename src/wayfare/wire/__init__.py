"""The admin API's and the collection endpoints' wire shapes, as msgspec Structs.

One module per resource. The server builds its answers from them and decodes requests into
them, ``/openapi.json`` is generated from them (``wayfare.api.openapi``), and the admin
client decodes what it gets into the same classes. The package imports nothing else of
Wayfare, so the client library can use it without the server.
"""
