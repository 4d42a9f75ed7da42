"""The live board: the web page people decide on, served by the app itself at ``/``."""
