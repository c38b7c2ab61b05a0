"""Benchmark instructions, each annotated with the skills a correct plan needs (``skills | text``)."""

INSTRUCTIONS = r'''
# household: fetch and carry
navigate_to,pick_object,handover_to_person | Go to the kitchen, grab the red mug from the counter and bring it to Anna.
navigate_to,pick_object,place_object | Fetch the TV remote from the sofa and put it on the coffee table.
pick_object,put_in_container | Put the apple on the table into the fruit basket.
navigate_to,take_from_container,handover_to_person | Get me a can of soda out of the fridge, I'm in the living room.
open_door,take_from_container,close_door | Open the fridge, take out the milk and shut the fridge again.
pick_object,place_object | Move the vase from the windowsill to the dining table.
navigate_to,pick_object,put_in_container | Collect the toys from the bedroom floor and drop them in the toy box.
pick_object,load_dishwasher | Load the dirty plates from the sink into the dishwasher.
unload_dishwasher | Empty the dishwasher and put the clean dishes away.
open_drawer,take_from_container,close_drawer | Get a spoon out of the cutlery drawer and close the drawer afterwards.
open_cabinet,pick_object,close_cabinet | Take a glass from the upper cabinet and close the cabinet.
pick_object,pour_liquid,place_object | Pour a glass of water from the jug and set the jug back down.
pick_object,pour_liquid | Fill the kettle with 500 ml of water from the bottle.
pick_object,stir_contents | Stir the soup in the pot for half a minute with the wooden spoon.
pick_object,wipe_surface | Take the sponge and clean the kitchen counter.
pick_object,scrub_surface | Grab the brush and scrub the coffee stain off the table.
pick_object,water_plant | Water the fern on the balcony with the watering can.
navigate_to,pick_object,water_plant | Go to the living room and water the monstera with 300 ml.
fold_cloth | Fold the bath towel in thirds.
unfold_cloth,fold_cloth | Shake out the crumpled shirt and fold it neatly.
hang_garment | Hang the jacket on the coat rail by the entrance.
make_bed | Make the bed in the guest room.
open_bottle,pour_liquid | Open the juice bottle and pour some into the glass.
open_lid,scoop,close_lid | Take two scoops of rice from the jar and close the jar again.
cut_with_knife | Cut the loaf of bread into six slices.
cut_with_knife,spread_on | Slice the bread and spread butter on it.
pick_object,put_in_container | Throw the empty can into the recycling bin.
open_lid,put_in_container,close_lid | Open the trash can lid, throw the wrapper away and close the lid.
turn_knob | Turn the left stove burner down a quarter turn.
press_button | Start the microwave.
flip_switch | Turn off the light in the hallway.
navigate_to,flip_switch | Go to the bedroom and switch on the light.
stack_objects | Stack the three plates on the counter with the big one at the bottom.
unstack_objects | Take the stack of books apart and lay them out on the desk.
sort_objects | Sort the laundry on the bed by colour.
sort_objects | Group the Lego bricks on the table by size.
push_object | Push the chair two metres backwards, under the table.
pull_object | Pull the laundry basket closer.
slide_object,pick_object | The phone is lying flat on the table; slide it to the edge and pick it up.
feed_person | Help grandpa eat his soup, one spoonful at a time.
brush_hair | Brush Lily's hair.
receive_from_person,put_in_container | Take the letter Tom is handing you and put it in the mailbox tray.
receive_from_person,navigate_to,handover_to_person | Take the book from Maria and give it to Jack in the study.
locate_object,pick_object | Find my keys and pick them up.
search_for_object,pick_object,handover_to_person | Look for my glasses somewhere in the house and bring them to me.
search_for_object,notify_user | Find the cat and send me a message where it is.
check_door_state,notify_user | Check if the front door is closed and let Sam know.
navigate_to,check_door_state,close_door | Go check the back door and close it if it is open.
check_object_state,turn_knob | Check whether the stove is still on and turn it off if it is.
detect_spill,pick_object,wipe_surface | Look for spills on the kitchen floor and wipe up anything you find with a cloth.
navigate_to,describe_scene | Go to the nursery and tell me what you see.
capture_image,notify_user | Take a photo of the living room and send it to my phone.
speak | Tell everyone that dinner is ready.
ask_question | Ask Emma whether she wants tea or coffee.
ask_question,navigate_to,pick_object,handover_to_person | Ask Bob which drink he wants, fetch it from the kitchen and hand it to him.
wave_hand,speak | Greet the guests at the door with a wave and say welcome.
listen_for_command | Listen for the next spoken command.
play_sound | Play the alarm sound.
set_led | Turn the status light blue and make it blink.
show_message | Show "Cleaning in progress" on your screen for five minutes.
follow_person | Follow me to the garage.
follow_person,receive_from_person | Follow Dad to the car and take the shopping bag from him.
dock_charger | Go back to the charging dock and charge.
check_battery,dock_charger | If your battery is low, go and charge.
return_home | Head back to your home position.
undock,navigate_to | Leave the dock and drive to the kitchen.
wait,pick_object | Wait ten seconds, then pick up the cup.
wait_for_person,handover_to_person | Wait for Nina to come home and give her the parcel.
save_location | Remember this spot as "reading corner".
navigate_to,deliver_item | Deliver the parcel on your tray to room 204.
ride_elevator,navigate_to | Take the elevator to the third floor and go to the meeting room.
pass_door,navigate_to | Go through the glass door into the garden.
park | Park yourself out of the way in the corridor.
# hospital and hotel service
navigate_to,deliver_item,notify_user | Bring the medication tray to ward 5 and notify nurse Kim when it has been delivered.
ride_elevator,deliver_item | Take the elevator to floor 2 and deliver the towels to room 212.
deliver_item,wait_for_person | Deliver the room-service order to room 318 and wait until the guest collects it.
attach_cart,tow_cart,detach_cart | Hook up the linen cart, tow it to the laundry and unhitch it there.
attach_cart,tow_cart | Latch onto the food cart and pull it to the cafeteria.
push_cart | Push the shopping cart to the checkout.
navigate_to,speak | Go to the lobby and announce that the shuttle bus is leaving.
detect_people,speak | If anyone is in the waiting room, tell them the doctor is ready.
recognize_face,speak | Check who is at the reception desk and greet them by name.
recognize_face | Remember the face of the new receptionist as Julia.
set_speed_limit,navigate_to | Slow down to 0.3 m/s and cross the crowded lobby to the elevators.
call_for_help | The door is blocked; ask an operator for help.
# humanoid
walk_to,pick_object | Walk over to the desk and pick up the stapler.
climb_stairs,walk_to | Climb the stairs and walk to the bedroom.
descend_stairs,walk_to,place_object | Carry the basket downstairs, walk to the laundry room and set it down.
sit_down | Sit down on the bench.
stand_up,walk_to | Get up and walk to the window.
crouch,pick_object | Crouch and pick up the coin under the table.
kneel,pick_object | Kneel down and pick up the ball that rolled under the sofa.
bow,speak | Bow to the audience and thank them.
shake_hands,speak | Shake hands with the visitor and introduce yourself.
point_at,speak | Point at the exit and tell the visitor that is the way out.
nod_head | Nod to confirm.
look_at,describe_scene | Look at the whiteboard and describe what is written on it.
look_at,read_text | Look at the sign over the door and read it.
turn_body,walk_to | Turn around and walk back to the kitchen.
lift_box,walk_to,place_object | Lift the heavy box with both hands, walk to the storage room and put it on the shelf.
carry_tray | Carry the tray of drinks to the patio without spilling.
balance_check | Do a balance self-check before you start.
step_over_obstacle,walk_to | Step over the cable on the floor and walk to the door.
open_door,walk_to,close_door | Open the office door, walk through and close it behind you.
# factory and lab
pick_from_bin,place_object | Pick a bolt out of the parts bin and place it on the fixture.
pick_from_bin,scan_qr_code,put_in_container | Pick a part from bin 3, scan its code and put it in the outgoing tote.
palletize | Put the box you are holding on pallet P1 in the interlocked pattern.
depalletize,place_object | Take the top box off pallet P7 and put it on the conveyor.
depalletize,scan_qr_code,palletize | Move a box from pallet A to pallet B, scanning its label on the way.
insert_peg | Insert the dowel pin into hole H2.
change_tool,screw_in | Mount the screwdriver and screw the M4 bolt into the bracket.
change_tool,unscrew | Switch to the screwdriver tool and remove the four screws of the cover.
plug_cable | Plug the Ethernet cable into port 1 of the switch.
unplug_cable,plug_cable | Move the USB cable from the laptop to the docking station.
assemble_parts | Snap the lid onto the housing.
pick_object,assemble_parts | Pick up the gear and press-fit it onto the shaft.
change_tool,apply_glue | Put on the glue nozzle and glue the edge of panel 4.
change_tool,sand_surface | Switch to the sander and sand the tabletop with 180 grit.
change_tool,spray_paint | Mount the spray gun and give the chair two coats of blue paint.
change_tool,weld_seam | Put on the welding torch and weld seam S3 at 150 A.
solder_joint | Solder pad J5 on board B12.
pipette_liquid | Transfer 50 microlitres from well A1 to well B1 with a fresh tip.
pipette_liquid,load_centrifuge | Pipette the samples into tubes T1 and T2 and spin them in the centrifuge.
load_centrifuge | Load tubes 1 to 4 into centrifuge C2.
follow_trajectory | Run the stored polishing trajectory at half speed.
move_arm_home | Move the arm back to its home position.
move_arm_to_pose | Move the gripper to x 0.4, y 0.1, z 0.3.
move_joints | Set the joints to 0, -45, 90, 0, 45, 0 degrees.
open_gripper | Open the gripper fully.
close_gripper | Close the gripper with 40 N.
set_gripper_width | Set the finger width to 35 mm.
suction_on,suction_off | Grip the sheet with the suction cup, then release it.
calibrate_gripper | Recalibrate the gripper, including the force ramp test.
tare_force_sensor | Zero the wrist force sensor.
weigh_object | How heavy is the object in your hand?
pick_object,weigh_object,place_object | Pick up the parcel, weigh it and put it back.
estimate_object_pose,pick_object | Estimate the pose of the bracket and then grasp it from the side.
inspect_surface | Inspect the weld on frame F2 for cracks.
segment_scene | Segment the workbench image into objects.
count_objects | How many boxes are on the conveyor?
read_gauge | Read the pressure gauge on tank 2.
thermal_scan | Check motor M3 for hot spots with the thermal camera.
emergency_stop | Stop everything now!
reset_errors,move_arm_home | Clear the fault and send the arm home.
report_status | Give me a status report.
check_battery | What's your battery level?
# warehouse and retail
navigate_to,pick_from_bin,deliver_item | Go to aisle 7, pick one item from bin 12 and deliver it to packing station 2.
find_empty_shelf_slot,navigate_to,place_object | Find an empty slot on shelf S4 and restock it with the box you carry.
count_objects,notify_user | Count the cereal boxes on shelf 3 and tell the store manager.
scan_qr_code | Scan the barcode on this package.
navigate_to,scan_qr_code | Drive to dock 3 and scan the pallet label.
patrol_route | Patrol the aisles A, B and C three times.
patrol_route,detect_spill | Do a round of the store and look for spills.
detect_spill,notify_user | Check aisle 5 for spills and tell the cleaner if you find one.
follow_path | Follow the inventory path at 0.8 m/s.
navigate_to,capture_image | Go to rack R12 and take a picture of it.
# outdoor, inspection with quadruped
trot_to,inspect_surface | Trot to the pipeline section P4 and check it for leaks.
set_gait,climb_stairs | Switch to the stairs gait and climb up to the platform.
traverse_terrain,trot_to | Cross the gravel yard and trot to the substation.
traverse_terrain | Walk across the muddy field.
read_gauge,thermal_scan | Read the gauge on pump 2 and do a thermal scan of it.
navigate_to,read_gauge,notify_user | Go to the boiler room, read the pressure gauge and report the value to the engineer.
patrol_route,thermal_scan | Patrol the substation and thermally scan each transformer.
lie_down | Lie down and rest.
jump | Jump onto the loading ramp.
step_over_obstacle | Climb over the fallen branch.
set_gait,trot_to | Switch to the bound gait and run to the gate.
detect_people,play_sound | If you see anyone in the restricted zone, sound the alarm.
detect_people,follow_person | Find the visitor and follow them.
record_video | Record a 30 second video of the test rig.
measure_distance | How far is the wall in front of you?
explore_area | Explore the basement.
build_map | Make a new map of the warehouse called wh2.
localize | Figure out where you are on the map.
go_to_pose | Go to x 3.5, y -1.2 facing 90 degrees.
move_forward | Drive forward one metre.
move_forward | Back up half a metre.
rotate_in_place | Turn around 180 degrees.
stop_base | Stop moving!
# drones
take_off,survey_area,land | Take off, survey the north field at 50 m and land again.
take_off,fly_to,capture_image,return_to_launch | Fly to the barn, take a photo of the roof and come back.
take_off,orbit_point,record_video | Take off and circle the tower twice while filming.
fly_to,drop_package | Fly to the cabin and drop the first-aid kit.
take_off,fly_to,drop_package,return_to_launch | Deliver the package to the farmhouse by drone and return to launch.
hover | Hold your position for 30 seconds.
set_altitude | Climb to 80 metres.
land | Land on pad 2.
return_to_launch | Come back home and land.
track_target_aerial | Follow the red truck from the air.
fly_to,inspect_surface | Fly to wind turbine 3 and inspect the blades for cracks.
fly_to,thermal_scan | Fly over the solar farm and look for hot panels.
fly_to,count_objects | Fly over the pasture and count the sheep.
zoom_camera,capture_image | Zoom in 10x and take a picture.
# camera head
pan_tilt_camera,capture_image | Pan the camera 45 degrees to the left and take a snapshot.
set_exposure,capture_image | Switch to manual exposure at 2 ms and take a picture.
track_object | Track the ball for a minute.
detect_objects | What objects do you see?
detect_objects | Are there any bottles or cups on the table?
locate_object | Where is the screwdriver?
read_text | Read the label on the medicine bottle.
describe_scene | Describe the room in detail.
# multi-robot, multi-step
navigate_to,pick_object,navigate_to,place_object,speak | Bring the laptop from the office to the meeting room, put it on the table and tell Chen it is there.
open_drawer,take_from_container,navigate_to,handover_to_person | Get the scissors from the desk drawer and hand them to Mia in the craft room.
pick_object,pour_liquid,carry_tray | Pour two cups of tea and carry them on the tray to the garden.
take_off,survey_area,notify_user | Survey the parking lot with the drone and notify security of the result.
navigate_to,open_door,pick_object,close_door | Go to the pantry, open its door, take a bag of flour and close the door.
pick_object,put_in_container,navigate_to,deliver_item | Pack the sandwich in the lunch box and deliver it to room 101.
detect_objects,sort_objects | Look at the desk and sort the items on it by category.
search_for_object,pick_object,put_in_container | Find all the socks lying around and put them in the laundry basket.
navigate_to,unplug_cable,pick_object | Go to the bedroom, unplug the phone charger and pick it up.
open_lid,pick_object,pour_liquid,close_lid | Open the milk carton, pour some into the cereal bowl and close it.
follow_person,pick_object,place_object | Follow Alex to the garage and put the toolbox he points to on the workbench.
crouch,pick_object,stand_up,handover_to_person | Crouch to get the pen from the floor, stand up and hand it to Oliver.
localize,navigate_to | Localize yourself and then drive to the charging room.
explore_area,search_for_object | Explore the attic and look for the Christmas decorations.
navigate_to,check_object_state,notify_user | Go to the greenhouse, check whether the plants need water and message me.
pick_object,place_object,wipe_surface | Move the plates off the table and wipe it.
receive_from_person,weigh_object | Take the letter from Paul and weigh it.
press_button,wait,open_door,take_from_container | Start the microwave, wait two minutes, then open it and take the bowl out.
move_arm_home,change_tool | Send the arm home and mount the suction tool.
suction_on,place_object,suction_off | Suck up the glass sheet, place it on the frame and release it.
'''
