"""LightningDataModules. Each one tells the model what it gets (``input_shape``) and must
produce (``num_outputs``), and what kind of problem it is (``kind``: the task to train)."""
