"""Layer 3: the command table (table.py) and the command families, one module per
data type or subsystem, each declaring its commands into the table."""
