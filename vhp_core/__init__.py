"""vhp_core: the variational hierarchical prior (VHP), its objectives and beta schedules (REWO, GECO,
warm-up), one training loop, evaluation, datasets and the paper's tables and figures.

Layers, each importing only those before it: the top-level helpers (`registry`, `plugins`, `io`,
`devices`); `maths` and `datasets` (independent of each other); `runs`; `report`; the command line."""
