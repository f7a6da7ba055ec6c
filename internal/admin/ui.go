package admin

type ui struct{}

func newUI(a *Admin) (*ui, error) { return &ui{}, nil }

const stylePath = "/ui/static/style.css"
