"""Layer 2: the value types and the keyspace; no command handler, no server, no socket."""
