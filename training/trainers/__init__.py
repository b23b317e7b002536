"""One trainer per network, each a ``runner.Task`` and an entry point
(``python -m training.trainers.<name> --config FILE [--set KEY=VALUE ...]``): ``posevae``,
``expnet``, ``mapping`` (against a frozen renderer) and ``facevid2vid`` (the renderer)."""
