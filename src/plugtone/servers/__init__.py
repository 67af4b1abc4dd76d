"""asyncio adapters that bind the protocols to sockets."""
