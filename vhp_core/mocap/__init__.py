"""Motion capture files: BVH (cgspeed's CMU conversion) and Acclaim ASF/AMC, with forward kinematics."""
