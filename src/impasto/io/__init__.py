"""Images in and out: decoding (EXIF, ICC, alpha, 16-bit, masks) and encoding (atomic writes,
previews). Pillow lives here. May import config, numpy and torch; never the engine."""
