"""Training data: videos -> prepared shards (``prepare``, layout in ``shards``), ExpNet's lip-only
targets (``teacher``, with the ``wav2lip`` generator), what each trainer samples from the shards
(``datasets``) and the speakers' pose-style slots (``styles``)."""
