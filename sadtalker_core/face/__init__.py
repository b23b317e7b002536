"""Face geometry: landmark alignment for the 3DMM regressor, 3DMM coefficients and their extraction."""
