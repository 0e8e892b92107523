"""TI2V generators behind stepeval's Generator protocol."""
