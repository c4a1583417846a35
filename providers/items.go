package providers

import (
	"github.com/google/wire"

	"github.com/example/apitemplate/controllers"
	"github.com/example/apitemplate/repositories"
	"github.com/example/apitemplate/services"
)

// ItemSet is /items: controller, service and repository.
var ItemSet = wire.NewSet(
	controllers.NewItemController,
	services.NewItemService,
	repositories.NewItemRepository,
	wire.Bind(new(services.ItemStore), new(*repositories.ItemRepository)),
	wire.Bind(new(services.OwnedItemsDeleter), new(*repositories.ItemRepository)),
)
