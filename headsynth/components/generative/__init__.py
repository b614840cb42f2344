"""Generative models of realistic parameter vectors (GMMs, conditional GANs) and the FitGenerativeModel step."""
