"""Layer 1: errors, logging, config, listeners and the native/pure switch."""
