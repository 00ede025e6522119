"""Speed measurements of lstmlib and the book, run side by side in one process: `make bench`.

Nothing here is a test: timings vary between machines and runs, so they are reported, never
asserted. Each section is a module: `lstm` (lstmlib against torch.nn.LSTM and the matmul peak),
`sliders` (the draw cost of every chapter's slider), `training` (the adding problem), `build`
(`make book` and `make test`, only with --full), `machine` (what the numbers were measured on),
`report` (the markdown and JSON files, and the book's Performance page include).
"""
