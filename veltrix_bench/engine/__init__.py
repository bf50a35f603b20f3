"""The Veltrix reference engine: an asyncio HTTP service with SQLite storage."""
