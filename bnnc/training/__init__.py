"""Training small BNNs with numpy, data sets, random models, garbage-class retraining."""
