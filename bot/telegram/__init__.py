"""The Telegram front end: configuration, access, formatting, handlers and the runtime."""
