package main

import "errors"

func (b *bench) display() error { return errors.New("todo") }
func (b *bench) restart() error { return errors.New("todo") }
