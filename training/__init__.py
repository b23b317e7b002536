"""Training for every SadTalker network, writing the official checkpoint formats.

``prepare`` turns talking-head videos into per-clip shards (``shards``) and ``teacher`` adds
ExpNet's lip-only targets; ``train_posevae``, ``train_expnet``, ``train_mapping`` and
``train_facevid2vid`` train the four networks with the papers' objectives (``losses``) through the
shared ``runner`` (DDP under torchrun, mixed precision, checkpoint / resume, CSV or TensorBoard
logs, samples); ``export`` writes the official files and assembles model folders the inference
code loads unchanged.  See the README's "Training" section.
"""
