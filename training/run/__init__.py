"""The machinery every trainer shares: the loop and a trainer's interface (``runner``), the up-front
check of its inputs (``inputs``), checkpoints (``checkpointing``), process groups
(``distributed``), global-batch BatchNorm (``sync_batchnorm``), loss logs (``logs``) and sample
renders (``samples``)."""
