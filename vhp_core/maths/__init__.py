"""The maths: distributions, networks, likelihoods, priors, objectives, beta schedules, the NLL estimator,
the interpolation graph and the read-outs. Tensors in, tensors out; imports nothing from runs or report."""
