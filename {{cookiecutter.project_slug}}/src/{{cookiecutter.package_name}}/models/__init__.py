"""Your models: plain ``nn.Module``s built as ``Model(input_shape, num_outputs, **hparams)``.

Add one by writing a file here and a YAML file in ``configs/model/`` whose ``_target_``
points at the class; the data decides ``input_shape`` and ``num_outputs``.
"""
