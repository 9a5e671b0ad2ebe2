"""LightningDataModules. Each one tells the model what it gets (``input_shape``) and must
produce (``num_outputs``), and which task trains on it (``task``)."""
