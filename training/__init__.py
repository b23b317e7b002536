"""Training for every SadTalker network, writing the official checkpoint formats.

``prepare`` turns talking-head videos into per-clip shards; ``train_posevae``,
``train_expnet``, ``train_mapping`` and ``train_facevid2vid`` train the four networks with the
papers' objectives through the shared ``runner`` (DDP under torchrun, mixed precision,
checkpoint / resume, CSV or TensorBoard logs, samples); ``export`` assembles model folders the
inference code loads unchanged.  See the README's "Training" section.
"""
