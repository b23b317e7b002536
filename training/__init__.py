"""Training for every SadTalker network, writing the official checkpoint formats.

Run from a checkout of the repository (the wheel ships ``sadtalker_core`` only; see the README's
"Training").  The layers, each importing only from those above it:

* ``config``: the trainers' YAML / ``--set`` configs and the shared :class:`~training.config.RunConfig`;
  ``command``: how every entry point reports a user mistake (one ``error:`` line, exit status 2);
* ``data``: talking-head videos -> per-clip shards (``python -m training.data.prepare``), ExpNet's
  lip-only targets (``python -m training.data.teacher``), the position-seeded datasets, speakers ->
  pose styles;
* ``losses``: the papers' objectives and the networks they need (VGG-19, BFM landmarks, the
  image discriminator, thin-plate warps);
* ``export``: trained networks -> the official files, and model folders the inference code loads
  (``python -m training.export``);
* ``run``: the shared loop (DDP under torchrun, mixed precision, checkpoint / resume, logs,
  samples, the up-front check of a trainer's inputs);
* ``trainers``: one per network, each an entry point: ``python -m training.trainers.posevae``,
  ``.expnet``, ``.mapping``, ``.facevid2vid``.

Every file training writes (shards, targets, checkpoints, exports) appears whole or not at all,
with the permissions the user's umask gives, through ``sadtalker_core.io.atomic``.
"""
