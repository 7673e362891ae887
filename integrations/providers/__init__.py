"""Payment providers behind one interface (``base``); ``registry`` names them."""
