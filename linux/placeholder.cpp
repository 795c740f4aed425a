// placeholder so the library has a source until the first facility lands
