"""Route modules: v1 (JSON API), libretranslate (compatible API), ops (health, metrics, page)."""
