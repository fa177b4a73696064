"""Persistence (book chapter 7): the RDB and AOF formats, and the services that
save and load them (services.attach hangs them on a server)."""
