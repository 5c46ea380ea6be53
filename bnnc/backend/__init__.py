"""Printers and writers: DIMACS, OPB, CPLEX LP, the text language, ONNX, images."""
