"""The report: Table 1 and 2, the sensitivity table, the paper's numbers and every figure, from run outputs."""
